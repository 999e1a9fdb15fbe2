// DB post-processing and box filtering, the same numbers as paddle_pp/postprocess/db_postprocess.py.
#pragma once
#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "config.h"
#include "preprocess.h"

namespace ppocr {

// Four corners (tl, tr, br, bl) in float32, as the Python side keeps them.
using Quad = std::array<cv::Point2f, 4>;

struct DBParams {
  double thresh = 0.3;
  double box_thresh = 0.6;
  int max_candidates = 1000;
  double unclip_ratio = 1.5;
  bool use_dilation = false;
  std::string score_mode = "fast";
  double nested_thresh = 0.0;  // > 0: drop boxes nested in larger ones (DropNested); 0: keep them (PaddleOCR)
};

// The det_db_* keys of the demo's config (make_cpp_config.py writes them from the detector's PostProcess).
DBParams ReadDBParams(const Config& c);

// One probability map (H x W float32) -> boxes in source pixels (DBPostProcess.__call__ for one image).
std::vector<Quad> DBPostProcess(const float* pred, int height, int width, const ShapeInfo& info,
                                const DBParams& params);
// Drop a box when more than `nested_thresh` of its area lies inside a box of larger area (db_postprocess.py
// drop_nested: the same OpenCV calls, every box compared with all the others).
std::vector<Quad> DropNested(const std::vector<Quad>& boxes, double nested_thresh);
// predict_det's last step: order clockwise, clip, drop boxes with a side <= 3.
std::vector<Quad> FilterTagDetRes(const std::vector<Quad>& boxes, int img_height, int img_width);
// det_ops.small_text_long_side: the long side to detect an image at again because its boxes are small (median
// crop short side x input_long_side / source_long_side under small.below; input_long_side x min(zoom, height /
// median), at most source_long_side unless past_own_size, and at most max_side_limit (0: none)); no boxes at all:
// the larger of input_long_side x zoom (at most source_long_side) and input_long_side x empty_zoom, at most
// max_side_limit; or 0 to keep the first pass.
int SmallTextLongSide(const std::vector<Quad>& boxes, int source_long_side, int input_long_side,
                      const SmallText& small, int max_side_limit = 0, bool past_own_size = false);
// det_ops.median_aspect: the median of the boxes' crops' long side over short side (at least 1 px); 0 without boxes.
double MedianAspect(const std::vector<Quad>& boxes);

// Pieces, exposed for tests.
Quad GetMiniBoxes(const std::vector<cv::Point>& contour, float* short_side);
double BoxScoreFast(const cv::Mat& pred, const Quad& box);
double BoxScoreSlow(const cv::Mat& pred, const std::vector<cv::Point>& contour);
Quad OrderPointsClockwise(const Quad& pts);

}  // namespace ppocr
