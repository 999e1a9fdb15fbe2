#include "crop.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace ppocr {

static float Norm(const cv::Point2f& a, const cv::Point2f& b) {
  float dx = a.x - b.x, dy = a.y - b.y;
  return std::sqrt(dx * dx + dy * dy);
}

void CropSize(const Quad& box, int* width, int* height) {
  *width = static_cast<int>(std::max(Norm(box[0], box[1]), Norm(box[2], box[3])));
  *height = static_cast<int>(std::max(Norm(box[0], box[3]), Norm(box[1], box[2])));
}

cv::Mat GetRotateCropImage(const cv::Mat& img, const Quad& box) {
  int crop_w = 0, crop_h = 0;
  CropSize(box, &crop_w, &crop_h);
  if (crop_w <= 0 || crop_h <= 0) throw std::invalid_argument("degenerate box gives an empty crop");
  cv::Point2f src[4] = {box[0], box[1], box[2], box[3]};
  cv::Point2f dst_pts[4] = {{0.f, 0.f}, {float(crop_w), 0.f}, {float(crop_w), float(crop_h)}, {0.f, float(crop_h)}};
  cv::Mat matrix = cv::getPerspectiveTransform(src, dst_pts);
  cv::Mat dst;
  cv::warpPerspective(img, dst, matrix, cv::Size(crop_w, crop_h), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  if (dst.rows * 1.0 / dst.cols >= 1.5) {
    cv::Mat rotated;
    cv::rotate(dst, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);  // np.rot90
    return rotated;
  }
  return dst;
}

// 1 where a crop is brighter than Otsu's threshold of its grey levels, else 0.
static cv::Mat BrightPixels(const cv::Mat& crop) {
  cv::Mat gray, bright;
  if (crop.channels() == 3) cv::cvtColor(crop, gray, cv::COLOR_BGR2GRAY); else gray = crop;
  cv::threshold(gray, bright, 0, 1, cv::THRESH_BINARY | cv::THRESH_OTSU);
  return bright;
}

// ink is the minority class: bright text on a dark ground, or dark on light
static bool MinorityIsBright(const cv::Mat& bright) {
  return 2 * static_cast<long>(cv::countNonZero(bright)) < static_cast<long>(bright.total());
}

bool IsLightOnDark(const cv::Mat& crop) { return MinorityIsBright(BrightPixels(crop)); }

double LightTextShare(const std::vector<cv::Mat>& crops) {
  long light = 0, counted = 0;
  for (const cv::Mat& crop : crops) {
    if (crop.empty()) continue;
    ++counted;
    light += IsLightOnDark(crop);
  }
  return counted ? light / double(counted) : 0.0;
}

double MedianHeight(const std::vector<cv::Mat>& crops) {
  std::vector<int> heights;
  for (const cv::Mat& crop : crops)
    if (!crop.empty()) heights.push_back(crop.rows);
  if (heights.empty()) return 0.0;
  std::sort(heights.begin(), heights.end());
  const size_t n = heights.size();
  return n % 2 ? heights[n / 2] : (heights[n / 2 - 1] + heights[n / 2]) / 2.0;
}

void InkedEnds(const cv::Mat& crop, double strip, double share, bool* left, bool* right) {
  *left = *right = false;
  const cv::Mat bright = BrightPixels(crop);
  const int height = bright.rows, width = bright.cols;
  const bool ink_is_bright = MinorityIsBright(bright);
  const int columns = std::max(2, static_cast<int>(std::floor(strip * height + 0.5)));
  if (width < 3 * columns) return;
  const double cells = static_cast<double>(height) * columns;
  auto ink_in = [&](int first) {
    int lit = cv::countNonZero(bright(cv::Range::all(), cv::Range(first, first + columns)));
    return static_cast<double>(ink_is_bright ? lit : height * columns - lit);
  };
  *left = ink_in(0) / cells >= share;
  *right = ink_in(width - columns) / cells >= share;
}

static double Distance(double ax, double ay, double bx, double by) {
  double dx = ax - bx, dy = ay - by;
  return std::sqrt(dx * dx + dy * dy);
}

// How far (at most `wanted`, at least 0) the corners can move along (dx, dy) and stay in [0, limit] on each axis.
static double Room(const double (*corners)[2], double dx, double dy, double wanted, double limit_x, double limit_y) {
  double step = wanted;
  const double direction[2] = {dx, dy}, limits[2] = {limit_x, limit_y};
  for (int c = 0; c < 2; ++c) {
    for (int axis = 0; axis < 2; ++axis) {
      if (direction[axis] > 0.0) step = std::min(step, (limits[axis] - corners[c][axis]) / direction[axis]);
      else if (direction[axis] < 0.0) step = std::min(step, (0.0 - corners[c][axis]) / direction[axis]);
    }
  }
  return std::max(step, 0.0);
}

Quad WidenedBox(const Quad& box, bool left, bool right, double by, int rows, int cols) {
  double p[4][2];
  for (int k = 0; k < 4; ++k) { p[k][0] = box[k].x; p[k][1] = box[k].y; }
  const double along_x = ((p[1][0] - p[0][0]) + (p[2][0] - p[3][0])) / 2.0;
  const double along_y = ((p[1][1] - p[0][1]) + (p[2][1] - p[3][1])) / 2.0;
  const double length = std::sqrt(along_x * along_x + along_y * along_y);
  const double height =
      (Distance(p[3][0], p[3][1], p[0][0], p[0][1]) + Distance(p[2][0], p[2][1], p[1][0], p[1][1])) / 2.0;
  Quad out = box;
  if (length <= 0.0) return out;
  const double unit_x = along_x / length, unit_y = along_y / length;
  const struct { bool chosen; int a, b; double sign; } ends[2] = {{left, 0, 3, -1.0}, {right, 1, 2, 1.0}};
  for (const auto& end : ends) {
    if (!end.chosen) continue;
    const double dx = unit_x * end.sign, dy = unit_y * end.sign;
    const double corners[2][2] = {{p[end.a][0], p[end.a][1]}, {p[end.b][0], p[end.b][1]}};
    const double step = Room(corners, dx, dy, by * height, cols - 1.0, rows - 1.0);
    for (int k : {end.a, end.b})
      out[k] = cv::Point2f(static_cast<float>(p[k][0] + dx * step), static_cast<float>(p[k][1] + dy * step));
  }
  return out;
}

int LeadingBulletEnd(const cv::Mat& crop) {
  const cv::Mat bright = BrightPixels(crop);
  cv::Mat ink = bright;
  if (!MinorityIsBright(bright)) ink = 1 - bright;
  const long height = ink.rows;
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(ink, labels, stats, centroids, 8, CV_32S);
  std::vector<int> blobs;
  for (int i = 1; i < count; ++i)
    if (stats.at<int>(i, cv::CC_STAT_AREA) >= 2) blobs.push_back(i);
  std::stable_sort(blobs.begin(), blobs.end(), [&](int a, int b) {
    return stats.at<int>(a, cv::CC_STAT_LEFT) < stats.at<int>(b, cv::CC_STAT_LEFT);
  });
  if (blobs.size() < 2) return 0;
  const int first = blobs[0];
  const long x = stats.at<int>(first, cv::CC_STAT_LEFT), y = stats.at<int>(first, cv::CC_STAT_TOP);
  const long w = stats.at<int>(first, cv::CC_STAT_WIDTH), h = stats.at<int>(first, cv::CC_STAT_HEIGHT);
  const long area = stats.at<int>(first, cv::CC_STAT_AREA);
  const long text = stats.at<int>(blobs[1], cv::CC_STAT_LEFT);
  long tallest = 0;
  for (size_t k = 1; k < blobs.size(); ++k) tallest = std::max<long>(tallest, stats.at<int>(blobs[k], cv::CC_STAT_HEIGHT));
  for (long side : {w, h})
    if (kBulletSizeLow * height > 100 * side || 100 * side > kBulletSizeHigh * height) return 0;
  if (kBulletAspectLow * h > 100 * w || 100 * w > kBulletAspectHigh * h || 100 * area < kBulletFill * w * h) return 0;
  if (labels.at<int>(int(y + h / 2), int(x + w / 2)) != first) return 0;
  if (2 * kBulletMiddleLow * height > 100 * (2 * y + h) || 100 * (2 * y + h) > 2 * kBulletMiddleHigh * height)
    return 0;
  if (100 * h > kBulletOfText * tallest) return 0;
  if (100 * (text - (x + w)) < kBulletGap * height) return 0;
  return int(std::max(x + w, text - kBulletMargin * height / 100));
}

Quad BoxFromColumn(const Quad& box, float column, bool from_right) {
  int crop_w = 0, crop_h = 0;
  CropSize(box, &crop_w, &crop_h);
  cv::Point2f src[4] = {{0.f, 0.f}, {float(crop_w), 0.f}, {float(crop_w), float(crop_h)}, {0.f, float(crop_h)}};
  cv::Point2f dst[4] = {box[0], box[1], box[2], box[3]};
  const cv::Mat back = cv::getPerspectiveTransform(src, dst);
  std::vector<cv::Point2f> ends = {{column, 0.f}, {column, float(crop_h)}}, image;
  cv::perspectiveTransform(ends, image, back);
  Quad out = box;
  if (from_right) {
    out[1] = image[0];
    out[2] = image[1];
  } else {
    out[0] = image[0];
    out[3] = image[1];
  }
  return out;
}

}  // namespace ppocr
