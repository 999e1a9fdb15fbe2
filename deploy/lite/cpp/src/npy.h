// Minimal .npy reader/writer (little-endian, C order): float32 ('<f4') and uint8 ('|u1') arrays.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ppocr {

struct NpyArray {
  std::string descr;            // '<f4' or '|u1'
  std::vector<int64_t> shape;
  std::vector<char> bytes;
  int64_t size() const;
  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
  const uint8_t* u8() const { return reinterpret_cast<const uint8_t*>(bytes.data()); }
};

NpyArray LoadNpy(const std::string& path);
void SaveNpy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
             const void* data, size_t nbytes);

}  // namespace ppocr
