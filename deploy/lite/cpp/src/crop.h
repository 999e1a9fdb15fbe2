// Text-line rectification (paddle_pp/utils/crop.py); the order of the boxes is reading_order.h's.
#pragma once
#include <vector>

#include <opencv2/core.hpp>

#include "db_postprocess.h"

namespace ppocr {

// (width, height) of a box's rectified crop before any turn: int() of the longer opposite edges (crop.py's crop_size).
void CropSize(const Quad& box, int* width, int* height);

// Perspective-warp the quad to an upright crop (INTER_CUBIC, BORDER_REPLICATE); rotate 90 degrees
// counter-clockwise when the crop is at least 1.5x taller than wide.
cv::Mat GetRotateCropImage(const cv::Mat& img, const Quad& box);

}  // namespace ppocr
