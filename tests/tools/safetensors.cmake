# mw-st-tool: the safetensors reader and writer behind a small command line,
# for tests/py/test_safetensors_compat.py (included from tests/CMakeLists.txt).
add_executable(mw-st-tool ${CMAKE_CURRENT_LIST_DIR}/mw_st_tool.c)
target_compile_definitions(mw-st-tool PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_link_libraries(mw-st-tool PRIVATE mwanda)

# The Python test is registered (when MW_PYTHON is set) before this file is
# included; it finds the tool through MWANDA_ST_TOOL.
if(TEST py.test_safetensors_compat)
  set_property(TEST py.test_safetensors_compat APPEND PROPERTY
    ENVIRONMENT "MWANDA_ST_TOOL=$<TARGET_FILE:mw-st-tool>")
endif()
