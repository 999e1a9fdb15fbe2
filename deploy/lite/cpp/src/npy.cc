#include "npy.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ppocr {

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static std::string HeaderValue(const std::string& header, const std::string& key) {
  size_t pos = header.find("'" + key + "'");
  if (pos == std::string::npos) throw std::runtime_error("npy header without " + key + ": " + header);
  pos = header.find(':', pos) + 1;
  while (header[pos] == ' ') ++pos;
  size_t end = pos;
  if (header[pos] == '\'') {
    end = header.find('\'', pos + 1) + 1;
  } else if (header[pos] == '(') {
    end = header.find(')', pos) + 1;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  }
  return header.substr(pos, end - pos);
}

NpyArray LoadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  std::string header(header_len, ' ');
  in.read(&header[0], header_len);
  NpyArray arr;
  std::string descr = HeaderValue(header, "descr");
  arr.descr = descr.substr(1, descr.size() - 2);
  if (HeaderValue(header, "fortran_order") != "False") throw std::runtime_error(path + ": Fortran order");
  std::string shape = HeaderValue(header, "shape");
  std::stringstream ss(shape.substr(1, shape.size() - 2));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') != std::string::npos) arr.shape.push_back(std::stoll(item));
  }
  size_t itemsize = 0;
  if (arr.descr == "<f4") itemsize = 4;
  else if (arr.descr == "|u1") itemsize = 1;
  else throw std::runtime_error(path + ": unsupported dtype " + arr.descr);
  arr.bytes.resize(static_cast<size_t>(arr.size()) * itemsize);
  in.read(arr.bytes.data(), arr.bytes.size());
  if (!in) throw std::runtime_error(path + ": truncated data");
  return arr;
}

void SaveNpy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
             const void* data, size_t nbytes) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write("\x93NUMPY\x01\x00", 8);
  unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff), static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<char*>(len), 2);
  out.write(header.data(), header.size());
  out.write(static_cast<const char*>(data), nbytes);
}

}  // namespace ppocr
