# Unit tests of the contact mapping layer. Included from
# tests/server/CMakeLists.txt.
foreach(test contact_mapper_test contact_validation_test)
  add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
  target_link_libraries(${test} PRIVATE contact_mapping wave_test_support
                        GTest::gmock_main)
  target_compile_options(${test} PRIVATE ${WAVE_WARNINGS})
  gtest_discover_tests(${test})
endforeach()
