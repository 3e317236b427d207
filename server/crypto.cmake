# Signed, expiring OAuth `state` parameter (HMAC-SHA256).
add_library(oauth_state oauth_state.cc)
target_include_directories(oauth_state PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(oauth_state PRIVATE ${WAVE_WARNINGS})
target_link_libraries(oauth_state
  PUBLIC absl::status absl::statusor absl::time
  PRIVATE OpenSSL::Crypto absl::strings)
