add_executable(oauth_state_test oauth_state_test.cc)
target_compile_options(oauth_state_test PRIVATE ${WAVE_WARNINGS})
target_link_libraries(oauth_state_test PRIVATE oauth_state wave_test_support
                      OpenSSL::Crypto absl::strings absl::time
                      GTest::gmock_main)
gtest_discover_tests(oauth_state_test)
