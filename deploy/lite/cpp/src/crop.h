// Reading order and text-line rectification (paddle_pp/utils/crop.py).
#pragma once
#include <vector>

#include <opencv2/core.hpp>

#include "db_postprocess.h"

namespace ppocr {

// Sort by (y, x) of the first point, then one pass swapping same-line neighbours (|dy| < 10) out of x order.
std::vector<Quad> SortedBoxes(std::vector<Quad> boxes);
// Perspective-warp the quad to an upright crop (INTER_CUBIC, BORDER_REPLICATE); rotate 90 degrees
// counter-clockwise when the crop is at least 1.5x taller than wide.
cv::Mat GetRotateCropImage(const cv::Mat& img, const Quad& box);

}  // namespace ppocr
