// Image preprocessing of the three models, numerically the same as paddle_pp/data/imaug/{det,rec}_ops.py.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "config.h"

namespace ppocr {

// [src_h, src_w, ratio_h, ratio_w], what DBPostProcess needs to map boxes back to the source image.
struct ShapeInfo {
  int src_h = 0, src_w = 0;
  double ratio_h = 1.0, ratio_w = 1.0;
};

// A float32 tensor, row-major.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

// DetResizeForTest type 0: limit_type 'max', 'min' or 'resize_long'; then the long side capped at max_side_limit
// (0: no cap, as PaddleOCR 2.x); each side snapped to a multiple of 32. With 'max', an image whose long side is
// over long_image_aspect times its short side is shrunk only until that short side is limit_side_len /
// long_image_aspect (det_ops.det_target_size; 0: never, as PaddleOCR).
// det_ops.det_scale: the scale of the limit rule, before the cap and the snap.
double DetScale(int h, int w, int limit_side_len, const std::string& limit_type, double long_image_aspect = 0.0);
void DetTargetSize(int h, int w, int limit_side_len, const std::string& limit_type, int* resize_h, int* resize_w,
                   int max_side_limit = 0, double long_image_aspect = 0.0);
// det_ops.det_window_length: the long side (image pixels) of the windows an image longer than max_side_limit at
// a resize by its short side, so far that the cap would shrink it below window_below of that scale, is detected in
// (det_windows.h), or 0 when it is detected whole.
int DetWindowLength(int h, int w, int limit_side_len, const std::string& limit_type, int max_side_limit,
                    double long_image_aspect, double window_below = 1.0);
cv::Mat DetResize(const cv::Mat& img, int limit_side_len, const std::string& limit_type, ShapeInfo* info,
                  int max_side_limit = 0, double long_image_aspect = 0.0);
// det_max_side_limit of an ocr_config.txt; configs written before the key have no cap (0).
int ReadDetMaxSideLimit(const Config& c);
// det_long_image_aspect of an ocr_config.txt; configs written before the key resize as PaddleOCR (0).
double ReadDetLongImageAspect(const Config& c);
// det_ops.detection_border: the border (pixels per side) an h x w image is detected inside: border_ratio of its
// short side when that side is under border_below (0: never, as PaddleOCR), else 0.
struct DetBorder {
  int below = 0;
  double ratio = 0.0;
  double unclip_ratio = 0.0;  // DB's unclip ratio for such an image; 0: det_db_unclip_ratio, as any other
};
int DetectionBorder(int h, int w, const DetBorder& border);
// det_ops.add_border: the image inside `border` pixels of its edges' colour (per-channel median of the outermost
// rows and columns, truncated to an integer as int(np.median(...))).
cv::Mat AddBorder(const cv::Mat& img, int border);
// det_border_below / det_border_ratio / det_border_unclip_ratio of an ocr_config.txt; configs written before the
// keys add no border.
DetBorder ReadDetBorder(const Config& c);
// det.yml's small_text_below / small_text_height / small_text_zoom (det_ops.small_text_long_side): an image whose
// boxes are under `below` px high (median, at the network's input) is detected again with that input's long side
// zoomed by height / median, at most `zoom` times (past the image's own size only where FlatShare is under
// `rendered_share`, a photo or a scan, not rendered print, and MedianAspect is at least `past_aspect`, words and
// lines); one in which it finds nothing, by `zoom` within its own size and at least `empty_zoom` times past it.
struct SmallText {
  double below = 0.0;  // 0: never (PaddleOCR)
  double zoom = 1.0;
  double height = 0.0;  // 0: always `zoom` times
  double unclip_ratio = 0.0;  // DB's unclip ratio in the second pass; 0: as in the first
  std::string score_mode;     // DB's box score in the second pass (fast or slow); empty: as in the first
  double empty_zoom = 0.0;  // nothing found: at least this many times, past the image's own size; 0: never
  bool empty_unread = false;  // ... and so, nothing read of what was found (OcrSystem::Run); false: never
  double rendered_share = 0.0;  // found small: past the image's own size under this FlatShare; 0: never
  double past_aspect = 0.0;     // ... and where MedianAspect is at least this; 0: whatever the boxes' shape
  bool grey = false;            // that pass sees the page in grey (AsGrey); false: in colour, as the first
};
// det_small_text_below / det_small_text_zoom / det_small_text_height / det_small_text_unclip_ratio /
// det_small_text_score_mode /
// det_small_text_empty_zoom / det_small_text_rendered_share / det_small_text_past_aspect / det_small_text_grey of
// an ocr_config.txt;
// configs written before the keys never zoom.
SmallText ReadSmallText(const Config& c);
// det_ops.as_grey: a BGR image in grey (OpenCV's luminance), still three channels; any other as it is.
cv::Mat AsGrey(const cv::Mat& img);
// det_ops.flat_share: the share of an image's pixels equal, in every channel, to their right and lower neighbours
// (the last row and column not counted; 1 for an image under 2 px either way). Rendered print is nearly all flat.
double FlatShare(const cv::Mat& img);
// det_ops.single_colour: every pixel equals the first in every channel (a blank page as rendered or drawn).
bool SingleColour(const cv::Mat& img);
// (x * scale - mean) / std per channel in the order given (BGR as decoded), HWC uint8 -> CHW float32,
// written at `out` (3 * H * W floats).
void NormalizeToCHW(const cv::Mat& img, const std::vector<double>& mean, const std::vector<double>& std,
                    double scale, float* out);
// Keep the aspect ratio, resize to img_h, width min(ceil(img_h * w / h), img_w), (x / 255 - 0.5) / 0.5,
// zero-pad on the right to img_w; writes 3 * img_h * img_w floats at `out`.
void ResizeNormPad(const cv::Mat& img, int img_h, int img_w, float* out);
// The width ResizeNormPad gives a crop in an input img_w wide (the rest is padding; rec_ops.resized_width).
int RecResizedWidth(const cv::Mat& img, int img_h, int img_w);
// The crop `factor` times as wide, as tall (bilinear, the width rounded half up; rec_ops.stretched).
cv::Mat Stretched(const cv::Mat& crop, double factor);
// The crop blurred by `sigma` pixels of the recognizer's img_h-pixel input: sigma x max(1, rows / img_h) of its own
// (Gaussian, OpenCV's kernel for that sigma; rec_ops.blurred).
cv::Mat Blurred(const cv::Mat& crop, double sigma, int img_h);
// rec_ops.cls_piece_spans: the [left, right) columns of the pieces a crop `width` x `height` is also classified in
// (pieces of the classifier's input shape, at most max_pieces, evenly spread, when width > pieces_above x height),
// or none.
std::vector<std::pair<int, int>> ClsPieceSpans(int width, int height, int cls_h, int cls_w, double pieces_above,
                                               int max_pieces);
// The recognizer's batch width for a batch whose largest width/height ratio is max_wh_ratio.
int RecBatchWidth(int img_h, double max_wh_ratio);

}  // namespace ppocr
