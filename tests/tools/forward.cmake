# mw-forward-tool: windows of token ids through the forward pass, per-position
# NLL, log-probs and hidden-state norms as JSON, for tests/py/test_forward_*.py
# and scripts/compare_llamacpp_logits.py (included from tests/CMakeLists.txt).
add_executable(mw-forward-tool ${CMAKE_CURRENT_LIST_DIR}/mw_forward_tool.c)
target_include_directories(mw-forward-tool PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(mw-forward-tool PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_link_libraries(mw-forward-tool PRIVATE mwanda OpenMP::OpenMP_C)

foreach(t py.test_forward_ref py.test_forward_llamacpp py.test_forward_hparams)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY
      ENVIRONMENT "MWANDA_FORWARD_TOOL=$<TARGET_FILE:mw-forward-tool>")
  endif()
endforeach()
