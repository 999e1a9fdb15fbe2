// Classifier and CTC decoding (paddle_pp/postprocess/cls_postprocess.py, ctc_decode.py).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ppocr {

// PaddleOCR's dictionary reading: one entry per line, CR/LF stripped; the blank first, space last if asked.
std::vector<std::string> LoadCharacters(const std::string& dict_path, bool use_space_char);

// [N, T, C] softmax -> (text, score): argmax per step, drop repeats then blanks, score = numpy's float32 mean
// of the kept steps' probabilities (0 when nothing is kept). mixed_case_prior in (0, 1) re-cases mixed-case
// words as ctc_decode.py's CaseConsistency does (rec_mixed_case_prior in the config); 0: greedy only.
std::vector<std::pair<std::string, float>> CTCDecode(const float* preds, int n, int t, int c,
                                                     const std::vector<std::string>& characters,
                                                     double mixed_case_prior = 0.0);
// [N, num_labels] -> (label index, probability).
std::vector<std::pair<int, float>> ClsDecode(const float* preds, int n, int num_labels);
// cls_postprocess.combine_votes: one crop's label probabilities from those of its views (the whole crop and its
// pieces), the geometric mean of each label's (each at least 1e-6) renormalised; float64 sums in order.
std::vector<float> CombineVotes(const std::vector<std::vector<float>>& votes);
// The characters (code points) of a UTF-8 text, as Python's len() counts them.
size_t Utf8Length(const std::string& text);
// pipeline.py's _softened_is_better: a crop's blurred read (text, score) replaces its read as cut where surer, with
// no fewer characters (spaces aside) and no fewer commas: a blur also erases marks smaller than a stroke (a minus
// sign, a decimal point, a comma's tail), and the model reads what is left more surely.
bool SoftenedIsBetter(const std::pair<std::string, float>& cut, const std::pair<std::string, float>& softened);
// numpy's pairwise float32 summation (np.add.reduce on a contiguous float32 array).
float PairwiseSum(const float* a, long n);

}  // namespace ppocr
