#include "page_orientation.h"

#include <algorithm>
#include <stdexcept>

#include <opencv2/core.hpp>

#include "crop.h"

namespace ppocr {

namespace {

bool Wins(double weight, double other, double minimum) {
  return weight >= minimum && weight >= kOrientationMargin * other;
}

}  // namespace

OrientationVotes CountVotes(const std::vector<Quad>& boxes, const std::vector<std::pair<bool, float>>& flipped_scores) {
  OrientationVotes votes;
  for (size_t i = 0; i < boxes.size() && i < flipped_scores.size(); ++i) {
    const Quad& box = boxes[i];
    int width = 0, height = 0;
    CropSize(box, &width, &height);
    if (width <= 0 || height <= 0) continue;
    double aspect = double(std::max(width, height)) / std::min(width, height);
    double score = flipped_scores[i].second;
    if (aspect < kOrientationMinAspect || score < kOrientationMinScore) continue;
    bool tall = height > width, flipped = flipped_scores[i].first;
    (tall ? votes.tall : votes.wide) += aspect;
    double& direction = tall ? (flipped ? votes.tall_flipped : votes.tall_upright)
                             : (flipped ? votes.wide_flipped : votes.wide_upright);
    direction += aspect * score;
  }
  return votes;
}

int PageAngle(const OrientationVotes& v) {
  if (Wins(v.tall, v.wide, kOrientationMinVotes)) {
    if (Wins(v.tall_upright, v.tall_flipped, kOrientationMinVotes / 2)) return 90;
    if (Wins(v.tall_flipped, v.tall_upright, kOrientationMinVotes / 2)) return 270;
    return 0;
  }
  if (Wins(v.wide, v.tall, kOrientationMinVotes) && Wins(v.wide_flipped, v.wide_upright, kOrientationMinVotes / 2))
    return 180;
  return 0;
}

bool IsClearlyUpright(const OrientationVotes& v) {
  return Wins(v.wide, v.tall, kOrientationMinVotes) && Wins(v.wide_upright, v.wide_flipped, kOrientationMinVotes / 2);
}

cv::Mat TurnImage(const cv::Mat& img, int angle) {
  cv::Mat out;
  switch (angle) {
    case 0: return img;
    case 90: cv::rotate(img, out, cv::ROTATE_90_COUNTERCLOCKWISE); return out;
    case 180: cv::rotate(img, out, cv::ROTATE_180); return out;
    case 270: cv::rotate(img, out, cv::ROTATE_90_CLOCKWISE); return out;
  }
  throw std::invalid_argument("a page angle is 0, 90, 180 or 270");
}

cv::Point PointBeforeTurn(const cv::Point& p, int angle, int rows, int cols) {
  switch (angle) {
    case 0: return p;
    case 90: return {cols - 1 - p.y, p.x};
    case 180: return {cols - 1 - p.x, rows - 1 - p.y};
    case 270: return {p.y, rows - 1 - p.x};
  }
  throw std::invalid_argument("a page angle is 0, 90, 180 or 270");
}

}  // namespace ppocr
