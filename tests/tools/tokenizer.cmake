# The tokenizer conversion test driver, handed to the Python tests as MWANDA_TOK_TOOL.
add_executable(mw-tok-tool ${CMAKE_CURRENT_LIST_DIR}/mw_tok_tool.c)
target_include_directories(mw-tok-tool PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_definitions(mw-tok-tool PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
target_link_libraries(mw-tok-tool PRIVATE mwanda)
if(TEST py.test_hf_tokenizer)
  set_property(TEST py.test_hf_tokenizer APPEND PROPERTY ENVIRONMENT
               "MWANDA_TOK_TOOL=$<TARGET_FILE:mw-tok-tool>")
endif()
# The fuzz target reads the internal header and uses POSIX strdup.
if(TARGET fuzz_spm_model)
  target_include_directories(fuzz_spm_model PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(fuzz_spm_model PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
endif()
