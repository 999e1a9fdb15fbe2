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

// Whether a crop's left and right ends lie on ink: at least `share` of its outermost strip x height columns is ink,
// Otsu's minority class of the crop (crop.py's inked_ends). A crop shorter than three strips has no end of its own.
void InkedEnds(const cv::Mat& crop, double strip, double share, bool* left, bool* right);
// Whether a line's ink is lighter than its ground: Otsu's minority class of the crop is the bright one
// (crop.py's is_light_on_dark); and the share of the (non-empty) crops that are (light_on_dark_share; 0 for none).
bool IsLightOnDark(const cv::Mat& crop);
double LightTextShare(const std::vector<cv::Mat>& crops);
// The median of the (non-empty) crops' heights (numpy's: the mean of the middle two of an even count); 0 for none.
double MedianHeight(const std::vector<cv::Mat>& crops);

// The box moved outward along its line by `by` x its height at the chosen ends, each end no further than keeps its
// corners inside a rows x cols image (crop.py's widened_box: the same double-precision steps).
Quad WidenedBox(const Quad& box, bool left, bool right, double by, int rows, int cols);

// The column at which a crop is cut so that a round bullet starting its line is not read, or 0 when it starts with
// none (crop.py's leading_bullet_end: the same integer tests on OpenCV's connected components).
int LeadingBulletEnd(const cv::Mat& crop);
// The part of a box from `column` of its crop (before any turn) to the crop's right end, or with `from_right` from
// its left end to `column` (crop.py's box_from_column: the crop's perspective warp carries the column back).
Quad BoxFromColumn(const Quad& box, float column, bool from_right);

// crop.py's BULLET_* constants (tests/test_lite_cpp.py checks they are Python's), percent of the crop's height
constexpr int kBulletSizeLow = 12, kBulletSizeHigh = 50;
constexpr int kBulletAspectLow = 75, kBulletAspectHigh = 133;
constexpr int kBulletFill = 60;
constexpr int kBulletMiddleLow = 25, kBulletMiddleHigh = 75;
constexpr int kBulletOfText = 70;
constexpr int kBulletGap = 30;
constexpr int kBulletMargin = 25;

}  // namespace ppocr
