# mw-prune-tool: src/prune's functions over raw arrays, for
# tests/py/test_prune_ref.py (included from tests/CMakeLists.txt).
add_executable(mw-prune-tool ${CMAKE_CURRENT_LIST_DIR}/mw_prune_tool.c)
target_include_directories(mw-prune-tool PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(mw-prune-tool PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_link_libraries(mw-prune-tool PRIVATE mwanda OpenMP::OpenMP_C)

if(TEST py.test_prune_ref)
  set_property(TEST py.test_prune_ref APPEND PROPERTY
    ENVIRONMENT "MWANDA_PRUNE_TOOL=$<TARGET_FILE:mw-prune-tool>")
endif()
