#include "config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ppocr {

Config Config::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open config " + path);
  Config config;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t sep = line.find(' ');
    if (sep == std::string::npos) throw std::runtime_error(path + ": bad line '" + line + "'");
    config.values_[line.substr(0, sep)] = line.substr(sep + 1);
  }
  return config;
}

std::string Config::Str(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::runtime_error("config key missing: " + key);
  return it->second;
}

double Config::Double(const std::string& key) const { return std::strtod(Str(key).c_str(), nullptr); }
int Config::Int(const std::string& key) const { return std::atoi(Str(key).c_str()); }
bool Config::Bool(const std::string& key) const {
  std::string v = Str(key);
  return v == "1" || v == "true" || v == "True";
}

std::vector<std::string> Config::Strings(const std::string& key) const {
  std::stringstream ss(Str(key));
  std::vector<std::string> out;
  std::string item;
  while (ss >> item) out.push_back(item);
  return out;
}

std::vector<double> Config::Doubles(const std::string& key) const {
  std::vector<double> out;
  for (const std::string& s : Strings(key)) out.push_back(std::strtod(s.c_str(), nullptr));
  return out;
}

}  // namespace ppocr
