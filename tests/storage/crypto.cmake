add_executable(token_cipher_test token_cipher_test.cc)
target_compile_options(token_cipher_test PRIVATE ${WAVE_WARNINGS})
target_link_libraries(token_cipher_test PRIVATE token_cipher wave_test_support
                      OpenSSL::Crypto absl::strings GTest::gmock_main)
gtest_discover_tests(token_cipher_test)
