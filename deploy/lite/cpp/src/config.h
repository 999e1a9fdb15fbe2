// The demo's settings: a key-value text file generated from configs/*.yml (deploy/lite/make_cpp_config.py).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace ppocr {

class Config {
 public:
  static Config Load(const std::string& path);
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  std::string Str(const std::string& key) const;
  double Double(const std::string& key) const;
  int Int(const std::string& key) const;
  bool Bool(const std::string& key) const;
  std::vector<double> Doubles(const std::string& key) const;
  std::vector<std::string> Strings(const std::string& key) const;
  void Set(const std::string& key, const std::string& value) { values_[key] = value; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace ppocr
