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

}  // namespace ppocr
