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

}  // namespace ppocr
