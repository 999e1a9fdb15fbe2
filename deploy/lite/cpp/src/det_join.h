// Lines of large text split at their spaces, joined where DB sees them whole from further away:
// paddle_pp/postprocess/det_join.py, the same numbers with the same OpenCV call (det.yml's large_text_above and
// large_text_height). OcrSystem::Detect runs the far pass.
#pragma once
#include <vector>

#include "config.h"
#include "db_postprocess.h"

namespace ppocr {

// det_large_text_above / det_large_text_height of an ocr_config.txt; configs written before the keys never join (0).
struct LargeText {
  double above = 0.0;   // pieces at least this high (px at the network's input); 0: never
  double height = 0.0;  // the far pass shrinks the image so that their median comes to this
};
LargeText ReadLargeText(const Config& c);

// det_join.input_heights: the boxes' heights at the network's input (crop short side x scale).
std::vector<double> InputHeights(const std::vector<Quad>& boxes, double scale);
// det_join.split_line_boxes: indices (ascending) of the boxes at least `above` high that have such a neighbour.
std::vector<int> SplitLineBoxes(const std::vector<Quad>& boxes, const std::vector<double>& heights, double above);
// det_join.far_long_side: the far pass's long side (0: it would not shrink the input).
int FarLongSide(const std::vector<double>& heights, const std::vector<int>& pieces, double height,
                int input_long_side);
// det_join.join_split_lines: the boxes with the pieces each far box joins replaced by it, after those that stand.
std::vector<Quad> JoinSplitLines(const std::vector<Quad>& boxes, const std::vector<Quad>& far,
                                 const std::vector<double>& heights, double above);

// det_join.py's constants (tests/test_lite_cpp.py checks they are Python's)
constexpr double kJoinHeightRatio = 1.5;
constexpr double kJoinMaxTurn = 10.0;
constexpr double kJoinAcross = 0.5;
constexpr double kJoinGap = 0.5;
constexpr double kJoinFarTaller = 1.5;
constexpr int kJoinMinFarSide = 32;

}  // namespace ppocr
