#include "preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace ppocr {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

double DetScale(int h, int w, int limit_side_len, const std::string& limit_type, double long_image_aspect) {
  if (limit_type == "max") {
    if (long_image_aspect > 0.0 && std::max(h, w) > long_image_aspect * std::min(h, w))
      return std::min(1.0, double(limit_side_len) / (long_image_aspect * std::min(h, w)));
    if (std::max(h, w) > limit_side_len) return h > w ? double(limit_side_len) / h : double(limit_side_len) / w;
    return 1.0;
  }
  if (limit_type == "min") {
    if (std::min(h, w) < limit_side_len) return h < w ? double(limit_side_len) / h : double(limit_side_len) / w;
    return 1.0;
  }
  if (limit_type == "resize_long") return double(limit_side_len) / std::max(h, w);
  throw std::invalid_argument("unsupported limit_type " + limit_type);
}

void DetTargetSize(int h, int w, int limit_side_len, const std::string& limit_type, int* resize_h, int* resize_w,
                   int max_side_limit, double long_image_aspect) {
  const double ratio = DetScale(h, w, limit_side_len, limit_type, long_image_aspect);
  int rh = static_cast<int>(h * ratio);
  int rw = static_cast<int>(w * ratio);
  if (max_side_limit > 0 && std::max(rh, rw) > max_side_limit) {
    double cap = double(max_side_limit) / std::max(rh, rw);
    rh = static_cast<int>(rh * cap);
    rw = static_cast<int>(rw * cap);
  }
  // Python's round(): ties to even, which is what nearbyint does in the default rounding mode.
  *resize_h = std::max(static_cast<int>(std::nearbyint(rh / 32.0) * 32), 32);
  *resize_w = std::max(static_cast<int>(std::nearbyint(rw / 32.0) * 32), 32);
}

int DetWindowLength(int h, int w, int limit_side_len, const std::string& limit_type, int max_side_limit,
                    double long_image_aspect, double window_below) {
  if (max_side_limit <= 0) return 0;
  const int short_side = std::min(h, w), long_side = std::max(h, w);
  const bool by_short_side = limit_type == "min" || (limit_type == "max" && long_image_aspect > 0.0 &&
                                                      long_side > long_image_aspect * short_side);
  const double ratio = DetScale(h, w, limit_side_len, limit_type, long_image_aspect);
  if (!by_short_side || static_cast<int>(long_side * ratio) <= max_side_limit ||
      max_side_limit >= window_below * long_side * ratio)
    return 0;
  const int window = static_cast<int>(max_side_limit / ratio);
  return window > short_side ? window : 0;
}

int ReadDetMaxSideLimit(const Config& c) { return c.Has("det_max_side_limit") ? c.Int("det_max_side_limit") : 0; }

double ReadDetLongImageAspect(const Config& c) {
  return c.Has("det_long_image_aspect") ? c.Double("det_long_image_aspect") : 0.0;
}

int DetectionBorder(int h, int w, const DetBorder& border) {
  int short_side = std::min(h, w);
  if (border.below <= 0 || short_side >= border.below) return 0;
  // Python's round(): ties to even, as nearbyint in the default rounding mode
  return std::max(1, static_cast<int>(std::nearbyint(border.ratio * short_side)));
}

cv::Mat AddBorder(const cv::Mat& img, int border) {
  if (img.empty() || img.depth() != CV_8U) throw std::invalid_argument("AddBorder needs a non-empty 8-bit image");
  const int channels = img.channels();
  std::vector<std::vector<int>> edges(channels);
  auto take = [&](int y, int x) {
    const uchar* px = img.ptr<uchar>(y) + x * channels;
    for (int c = 0; c < channels; ++c) edges[c].push_back(px[c]);
  };
  // the same pixels as Python's concatenate([img[0], img[-1], img[:, 0], img[:, -1]]): corners twice
  for (int x = 0; x < img.cols; ++x) take(0, x);
  for (int x = 0; x < img.cols; ++x) take(img.rows - 1, x);
  for (int y = 0; y < img.rows; ++y) take(y, 0);
  for (int y = 0; y < img.rows; ++y) take(y, img.cols - 1);
  cv::Scalar colour;
  for (int c = 0; c < channels; ++c) {
    std::vector<int>& v = edges[c];
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    // np.median: the middle value, or the mean of the two middle ones; int() truncates (values are >= 0)
    colour[c] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  cv::Mat out;
  cv::copyMakeBorder(img, out, border, border, border, border, cv::BORDER_CONSTANT, colour);
  return out;
}

SmallText ReadSmallText(const Config& c) {
  SmallText small;
  if (c.Has("det_small_text_below")) small.below = c.Double("det_small_text_below");
  if (c.Has("det_small_text_zoom")) small.zoom = c.Double("det_small_text_zoom");
  if (c.Has("det_small_text_height")) small.height = c.Double("det_small_text_height");
  if (c.Has("det_small_text_unclip_ratio")) small.unclip_ratio = c.Double("det_small_text_unclip_ratio");
  if (c.Has("det_small_text_score_mode")) small.score_mode = c.Str("det_small_text_score_mode");
  if (c.Has("det_small_text_empty_zoom")) small.empty_zoom = c.Double("det_small_text_empty_zoom");
  if (c.Has("det_small_text_empty_unread")) small.empty_unread = c.Bool("det_small_text_empty_unread");
  if (c.Has("det_small_text_rendered_share")) small.rendered_share = c.Double("det_small_text_rendered_share");
  if (c.Has("det_small_text_past_aspect")) small.past_aspect = c.Double("det_small_text_past_aspect");
  if (c.Has("det_small_text_grey")) small.grey = c.Bool("det_small_text_grey");
  return small;
}

cv::Mat AsGrey(const cv::Mat& img) {
  if (img.channels() != 3) return img;
  cv::Mat grey, out;
  cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grey, out, cv::COLOR_GRAY2BGR);
  return out;
}

double FlatShare(const cv::Mat& img) {
  if (img.rows < 2 || img.cols < 2) return 1.0;
  const int channels = img.channels();
  long long same = 0;
  for (int y = 0; y + 1 < img.rows; ++y) {
    const uchar* here = img.ptr<uchar>(y);
    const uchar* below = img.ptr<uchar>(y + 1);
    for (int x = 0; x + 1 < img.cols; ++x) {
      const size_t at = static_cast<size_t>(x) * channels;
      same += std::memcmp(here + at, here + at + channels, channels) == 0 &&
              std::memcmp(here + at, below + at, channels) == 0;
    }
  }
  return double(same) / (double(img.rows - 1) * (img.cols - 1));
}

bool SingleColour(const cv::Mat& img) {
  const size_t pixel = img.elemSize();
  const uchar* first = img.ptr<uchar>(0);
  for (int y = 0; y < img.rows; ++y) {
    const uchar* row = img.ptr<uchar>(y);
    for (int x = 0; x < img.cols; ++x)
      if (std::memcmp(row + x * pixel, first, pixel) != 0) return false;
  }
  return true;
}

DetBorder ReadDetBorder(const Config& c) {
  DetBorder border;
  if (c.Has("det_border_below")) border.below = c.Int("det_border_below");
  if (c.Has("det_border_ratio")) border.ratio = c.Double("det_border_ratio");
  if (c.Has("det_border_unclip_ratio")) border.unclip_ratio = c.Double("det_border_unclip_ratio");
  return border;
}

cv::Mat DetResize(const cv::Mat& img, int limit_side_len, const std::string& limit_type, ShapeInfo* info,
                  int max_side_limit, double long_image_aspect) {
  if (img.empty()) throw std::invalid_argument("DetResize: empty image");
  int rh = 0, rw = 0;
  DetTargetSize(img.rows, img.cols, limit_side_len, limit_type, &rh, &rw, max_side_limit, long_image_aspect);
  cv::Mat resized;
  cv::resize(img, resized, cv::Size(rw, rh));
  info->src_h = img.rows;
  info->src_w = img.cols;
  info->ratio_h = rh / double(img.rows);
  info->ratio_w = rw / double(img.cols);
  return resized;
}

void NormalizeToCHW(const cv::Mat& img, const std::vector<double>& mean, const std::vector<double>& std,
                    double scale, float* out) {
  if (img.type() != CV_8UC3 || mean.size() != 3 || std.size() != 3)
    throw std::invalid_argument("NormalizeToCHW needs an 8-bit 3-channel image and 3 means/stds");
  const float scale32 = static_cast<float>(scale);
  const float m[3] = {float(mean[0]), float(mean[1]), float(mean[2])};
  const float s[3] = {float(std[0]), float(std[1]), float(std[2])};
  const int h = img.rows, w = img.cols;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = img.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        float v = static_cast<float>(row[3 * x + c]) * scale32;
        v = v - m[c];
        out[(size_t(c) * h + y) * w + x] = v / s[c];
      }
    }
  }
}

std::vector<std::pair<int, int>> ClsPieceSpans(int width, int height, int cls_h, int cls_w, double pieces_above,
                                               int max_pieces) {
  std::vector<std::pair<int, int>> spans;
  int piece = height > 0 ? height * cls_w / cls_h : 0;  // non-negative ints: / floors as Python's //
  if (pieces_above <= 0 || max_pieces < 2 || height <= 0 || piece <= 0 || width <= pieces_above * height) return spans;
  int count = std::min(max_pieces, (width + piece - 1) / piece);
  if (count < 2) return spans;
  for (int i = 0; i < count; ++i) {
    int start = i * (width - piece) / (count - 1);
    spans.emplace_back(start, start + piece);
  }
  return spans;
}

int RecResizedWidth(const cv::Mat& img, int img_h, int img_w) {
  double want = std::ceil(img_h * (img.cols / double(img.rows)));
  return want > img_w ? img_w : static_cast<int>(want);
}

cv::Mat Stretched(const cv::Mat& crop, double factor) {
  const int width = std::max(1, static_cast<int>(std::floor(crop.cols * factor + 0.5)));
  cv::Mat out;
  cv::resize(crop, out, cv::Size(width, crop.rows), 0, 0, cv::INTER_LINEAR);
  return out;
}

cv::Mat Blurred(const cv::Mat& crop, double sigma, int img_h) {
  cv::Mat out;
  cv::GaussianBlur(crop, out, cv::Size(0, 0), sigma * std::max(1.0, crop.rows / double(img_h)));
  return out;
}

void ResizeNormPad(const cv::Mat& img, int img_h, int img_w, float* out) {
  if (img.type() != CV_8UC3 || img.rows <= 0 || img.cols <= 0)
    throw std::invalid_argument("ResizeNormPad needs a non-empty 8-bit 3-channel crop");
  if (img_w <= 0) throw std::invalid_argument("ResizeNormPad: target width is not positive");
  int resized_w = RecResizedWidth(img, img_h, img_w);
  cv::Mat resized;
  cv::resize(img, resized, cv::Size(resized_w, img_h));
  std::fill(out, out + size_t(3) * img_h * img_w, 0.0f);
  for (int y = 0; y < img_h; ++y) {
    const uint8_t* row = resized.ptr<uint8_t>(y);
    for (int x = 0; x < resized_w; ++x) {
      for (int c = 0; c < 3; ++c) {
        float v = static_cast<float>(row[3 * x + c]) / 255.0f;
        v -= 0.5f;
        v /= 0.5f;
        out[(size_t(c) * img_h + y) * img_w + x] = v;
      }
    }
  }
}

int RecBatchWidth(int img_h, double max_wh_ratio) { return static_cast<int>(img_h * max_wh_ratio); }

}  // namespace ppocr
