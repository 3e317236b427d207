# The contact mapping layer: validates Wave contacts and maps them to the
# Pipedrive Person and Lead the sync writes. Included from
# server/CMakeLists.txt.
add_library(contact_mapping
            ${CMAKE_CURRENT_LIST_DIR}/contact_mapper.cc
            ${CMAKE_CURRENT_LIST_DIR}/contact_validation.cc)
target_include_directories(contact_mapping PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(contact_mapping
                      PUBLIC pipedrive_sync_proto
                             absl::status
                             absl::statusor
                             absl::strings
                             absl::time
                             nlohmann_json::nlohmann_json)
target_compile_options(contact_mapping PRIVATE ${WAVE_WARNINGS})
