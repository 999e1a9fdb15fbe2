#include "decode.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
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

namespace {

bool IsAsciiLetter(const std::string& s) {
  return s.size() == 1 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
}

// ctc_decode.py's CaseConsistency: each run of 2+ decoded ASCII letters whose case is mixed is compared with its
// lower, UPPER and Capitalised spellings; a spelling scores the sum of the logs of its letters' peak
// probabilities over their CTC runs, plus log(prior) for the mixed one and log(1 - prior) for the others.
class CaseConsistency {
 public:
  CaseConsistency(const std::vector<std::string>& characters, double prior)
      : log_mixed_(std::log(prior)), log_consistent_(std::log1p(-prior)), lower_(characters.size(), -2),
        upper_(characters.size(), -2) {
    std::map<std::string, int> index;  // the last index of a repeated entry, as a Python dict comprehension
    for (size_t i = 0; i < characters.size(); ++i) index[characters[i]] = int(i);
    auto find = [&index](const std::string& s) { auto it = index.find(s); return it == index.end() ? -1 : it->second; };
    for (size_t i = 1; i < characters.size(); ++i) {
      if (!IsAsciiLetter(characters[i])) continue;
      const char ch = characters[i][0];
      lower_[i] = find(std::string(1, char(std::tolower(ch))));
      upper_[i] = find(std::string(1, char(std::toupper(ch))));
    }
  }

  void Apply(const float* row0, int c, const std::vector<int>& firsts, const std::vector<int>& lasts,
             std::vector<int>* classes) const {
    std::vector<int>& out = *classes;
    size_t i = 0;
    while (i < out.size()) {
      size_t j = i;
      while (j < out.size() && lower_[out[j]] != -2) ++j;
      if (j - i >= 2) Word(row0, c, firsts, lasts, i, j, &out);
      i = std::max(j, i + 1);
    }
  }

 private:
  double LogProb(const float* row0, int c, const std::vector<int>& firsts, const std::vector<int>& lasts,
                 size_t i, const std::vector<int>& spelling) const {
    double sum = 0.0;
    for (size_t k = 0; k < spelling.size(); ++k) {
      if (spelling[k] < 0) return -INFINITY;
      float peak = row0[size_t(firsts[i + k]) * c + spelling[k]];
      for (int s = firsts[i + k] + 1; s <= lasts[i + k]; ++s) peak = std::max(peak, row0[size_t(s) * c + spelling[k]]);
      if (peak <= 0.f) return -INFINITY;
      sum += std::log(double(peak));
    }
    return sum;
  }

  void Word(const float* row0, int c, const std::vector<int>& firsts, const std::vector<int>& lasts, size_t i,
            size_t j, std::vector<int>* out) const {
    std::vector<int> word(out->begin() + i, out->begin() + j), lower, upper;
    for (int k : word) {
      lower.push_back(lower_[k]);
      upper.push_back(upper_[k]);
    }
    std::vector<int> title = lower;
    title[0] = upper[0];
    const std::vector<int>* spellings[3] = {&lower, &upper, &title};
    for (const auto* sp : spellings)
      if (*sp == word) return;
    const std::vector<int>* best = &word;
    double best_score = LogProb(row0, c, firsts, lasts, i, word) + log_mixed_;
    for (const auto* sp : spellings) {
      double score = LogProb(row0, c, firsts, lasts, i, *sp) + log_consistent_;
      if (score > best_score) {
        best = sp;
        best_score = score;
      }
    }
    std::copy(best->begin(), best->end(), out->begin() + i);
  }

  double log_mixed_, log_consistent_;
  std::vector<int> lower_, upper_;  // per class; -2: not an ASCII letter, -1: the other case is not in the dictionary
};

}  // namespace

std::vector<std::pair<std::string, float>> CTCDecode(const float* preds, int n, int t, int c,
                                                     const std::vector<std::string>& characters,
                                                     double mixed_case_prior) {
  if (static_cast<int>(characters.size()) != c)
    throw std::invalid_argument("preds have " + std::to_string(c) + " classes, dictionary has " +
                                std::to_string(characters.size()));
  if (mixed_case_prior < 0.0 || mixed_case_prior >= 1.0)
    throw std::invalid_argument("mixed_case_prior must be in (0, 1), or 0 for none");
  std::unique_ptr<CaseConsistency> cases;
  if (mixed_case_prior > 0.0) cases.reset(new CaseConsistency(characters, mixed_case_prior));
  std::vector<std::pair<std::string, float>> out;
  for (int b = 0; b < n; ++b) {
    const float* row0 = preds + static_cast<size_t>(b) * t * c;
    std::vector<int> classes, firsts, lasts;
    int prev = -1;
    for (int s = 0; s < t; ++s) {
      const float* row = row0 + static_cast<size_t>(s) * c;
      int best = 0;
      for (int k = 1; k < c; ++k)
        if (row[k] > row[best]) best = k;
      if (best == prev) {
        if (best != 0) lasts.back() = s;
      } else if (best != 0) {
        classes.push_back(best);
        firsts.push_back(s);
        lasts.push_back(s);
      }
      prev = best;
    }
    if (cases) cases->Apply(row0, c, firsts, lasts, &classes);
    std::string text;
    std::vector<float> kept;
    for (size_t k = 0; k < classes.size(); ++k) {
      text += characters[classes[k]];
      kept.push_back(row0[static_cast<size_t>(firsts[k]) * c + classes[k]]);
    }
    float score = 0.f;
    if (!kept.empty()) score = static_cast<float>(static_cast<double>(PairwiseSum(kept.data(), kept.size())) / kept.size());
    out.emplace_back(text, score);
  }
  return out;
}

size_t Utf8Length(const std::string& text) {
  size_t count = 0;
  for (unsigned char byte : text) count += (byte & 0xC0) != 0x80;  // every byte but a continuation byte
  return count;
}

bool SoftenedIsBetter(const std::pair<std::string, float>& cut, const std::pair<std::string, float>& softened) {
  auto visible = [](const std::string& text) {
    return Utf8Length(text) - size_t(std::count(text.begin(), text.end(), ' '));
  };
  auto commas = [](const std::string& text) { return std::count(text.begin(), text.end(), ','); };
  return softened.second > cut.second && visible(softened.first) >= visible(cut.first) &&
         commas(softened.first) >= commas(cut.first);
}

std::vector<float> CombineVotes(const std::vector<std::vector<float>>& votes) {
  const double kVoteFloor = 1e-6;  // cls_postprocess.VOTE_FLOOR
  size_t num_labels = votes.at(0).size();
  std::vector<double> means(num_labels);
  for (size_t label = 0; label < num_labels; ++label) {
    double total = 0.0;
    for (const std::vector<float>& vote : votes)
      total += std::log(std::min(std::max(double(vote[label]), kVoteFloor), 1.0));
    means[label] = total / double(votes.size());
  }
  double top = *std::max_element(means.begin(), means.end());
  std::vector<double> weights(num_labels);
  double norm = 0.0;
  for (size_t label = 0; label < num_labels; ++label) {
    weights[label] = std::exp(means[label] - top);
    norm += weights[label];
  }
  std::vector<float> out(num_labels);
  for (size_t label = 0; label < num_labels; ++label) out[label] = static_cast<float>(weights[label] / norm);
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
