#include "decode.h"

#include <fstream>
#include <stdexcept>

namespace ppocr {

std::vector<std::string> LoadCharacters(const std::string& dict_path, bool use_space_char) {
  std::ifstream in(dict_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open dictionary " + dict_path);
  std::vector<std::string> chars = {"blank"};
  std::string line;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of("\r\n");
    size_t e = line.find_last_not_of("\r\n");
    chars.push_back(b == std::string::npos ? std::string() : line.substr(b, e - b + 1));
  }
  if (use_space_char) chars.push_back(" ");
  return chars;
}

float PairwiseSum(const float* a, long n) {
  if (n < 8) {
    float res = 0.f;
    for (long i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    long i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  long n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

std::vector<std::pair<std::string, float>> CTCDecode(const float* preds, int n, int t, int c,
                                                     const std::vector<std::string>& characters) {
  if (static_cast<int>(characters.size()) != c)
    throw std::invalid_argument("preds have " + std::to_string(c) + " classes, dictionary has " +
                                std::to_string(characters.size()));
  std::vector<std::pair<std::string, float>> out;
  for (int b = 0; b < n; ++b) {
    std::string text;
    std::vector<float> kept;
    int prev = -1;
    for (int s = 0; s < t; ++s) {
      const float* row = preds + (static_cast<size_t>(b) * t + s) * c;
      int best = 0;
      for (int k = 1; k < c; ++k)
        if (row[k] > row[best]) best = k;
      if (best != 0 && best != prev) {
        text += characters[best];
        kept.push_back(row[best]);
      }
      prev = best;
    }
    float score = 0.f;
    if (!kept.empty()) score = static_cast<float>(static_cast<double>(PairwiseSum(kept.data(), kept.size())) / kept.size());
    out.emplace_back(text, score);
  }
  return out;
}

std::vector<std::pair<int, float>> ClsDecode(const float* preds, int n, int num_labels) {
  std::vector<std::pair<int, float>> out;
  for (int b = 0; b < n; ++b) {
    const float* row = preds + static_cast<size_t>(b) * num_labels;
    int best = 0;
    for (int k = 1; k < num_labels; ++k)
      if (row[k] > row[best]) best = k;
    out.emplace_back(best, row[best]);
  }
  return out;
}

}  // namespace ppocr
