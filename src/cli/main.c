#include "mwanda.h"

#include <stdio.h>

int main(void) {
    printf("mwanda %s\n", mw_version());
    return 0;
}
