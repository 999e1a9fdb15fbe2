// Page orientation from the votes of a page's lines (paddle_pp/utils/page_orientation.py, the same rule and
// numbers): use_doc_orientation_classify in ocr_config.txt.
#pragma once
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "db_postprocess.h"

namespace ppocr {

// page_orientation.py's MIN_ASPECT, MIN_SCORE, MARGIN, MIN_VOTES, RECOUNT_SHRUNK_BELOW (a test keeps them equal).
constexpr double kOrientationMinAspect = 1.5;
constexpr double kOrientationMinScore = 0.9;
constexpr double kOrientationMargin = 2.0;
constexpr double kOrientationMinVotes = 10.0;
constexpr double kOrientationRecountShrunkBelow = 0.75;

struct OrientationVotes {
  double wide = 0, tall = 0, wide_upright = 0, wide_flipped = 0, tall_upright = 0, tall_flipped = 0;
};

// The votes of a page's boxes and their crops' classifier results (is the label "180", score), in the same order.
OrientationVotes CountVotes(const std::vector<Quad>& boxes, const std::vector<std::pair<bool, float>>& flipped_scores);
// The counter-clockwise turn (0, 90, 180, 270) that makes the page upright; 0 when the votes are not clear.
int PageAngle(const OrientationVotes& votes);
bool IsClearlyUpright(const OrientationVotes& votes);
// The image turned counter-clockwise by `angle` (np.rot90), and a point of that turned image carried back into the
// image before the turn, whose size is `rows` x `cols`.
cv::Mat TurnImage(const cv::Mat& img, int angle);
cv::Point PointBeforeTurn(const cv::Point& p, int angle, int rows, int cols);

}  // namespace ppocr
