# Authenticated encryption of OAuth tokens at rest (AES-256-GCM).
add_library(token_cipher token_cipher.cc)
target_include_directories(token_cipher PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(token_cipher PRIVATE ${WAVE_WARNINGS})
target_link_libraries(token_cipher
  PUBLIC absl::status absl::statusor
  PRIVATE OpenSSL::Crypto absl::strings absl::time absl::cleanup)
