#include "ocr_system.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "crop.h"
#include "decode.h"
#include "det_windows.h"
#include "page_orientation.h"
#include "preprocess.h"
#include "reading_order.h"

namespace ppocr {

OcrSystem::OcrSystem(const Config& c, Predictor* det, Predictor* cls, Predictor* rec, const std::string& dict_path)
    : det_(det), cls_(cls), rec_(rec) {
  det_limit_side_len_ = c.Int("det_limit_side_len");
  det_limit_type_ = c.Str("det_limit_type");
  det_max_side_limit_ = ReadDetMaxSideLimit(c);
  det_long_image_aspect_ = ReadDetLongImageAspect(c);
  det_window_overlap_ = ReadDetWindowOverlap(c);
  det_window_below_ = ReadDetWindowBelow(c);
  det_border_ = ReadDetBorder(c);
  det_small_text_ = ReadSmallText(c);
  det_large_text_ = ReadLargeText(c);
  det_mean_ = c.Doubles("det_mean");
  det_std_ = c.Doubles("det_std");
  det_scale_ = c.Double("det_scale");
  db_ = ReadDBParams(c);
  std::vector<double> cls_shape = c.Doubles("cls_image_shape");
  cls_h_ = int(cls_shape[1]);
  cls_w_ = int(cls_shape[2]);
  cls_batch_num_ = c.Int("cls_batch_num");
  cls_thresh_ = c.Double("cls_thresh");
  cls_pieces_above_ = c.Has("cls_pieces_above") ? c.Double("cls_pieces_above") : 0.0;
  cls_max_pieces_ = c.Has("cls_max_pieces") ? c.Int("cls_max_pieces") : 0;
  cls_upright_sure_ = c.Has("cls_upright_sure") ? c.Double("cls_upright_sure") : 1.0;
  cls_turned_view_ = c.Has("cls_turned_view") && c.Bool("cls_turned_view");
  cls_labels_ = c.Strings("cls_label_list");
  if (cls_turned_view_ && cls_labels_.size() != 2)  // the turned view swaps the two labels of a 0/180 classifier
    throw std::runtime_error("cls_turned_view needs the two labels of a 0/180 classifier (cls_label_list)");
  std::vector<double> rec_shape = c.Doubles("rec_image_shape");
  rec_h_ = int(rec_shape[1]);
  rec_w_ = int(rec_shape[2]);
  rec_batch_num_ = c.Int("rec_batch_num");
  rec_max_pad_ratio_ = c.Has("rec_max_pad_ratio") ? c.Double("rec_max_pad_ratio") : 0.0;
  rec_mixed_case_prior_ = c.Has("rec_mixed_case_prior") ? c.Double("rec_mixed_case_prior") : 0.0;
  rec_widen_inked_ends_ = c.Has("rec_widen_inked_ends") ? c.Double("rec_widen_inked_ends") : 0.0;
  rec_ink_strip_ = rec_widen_inked_ends_ > 0.0 ? c.Double("rec_ink_strip") : 0.0;  // needed when widening
  rec_ink_share_ = rec_widen_inked_ends_ > 0.0 ? c.Double("rec_ink_share") : 0.0;
  rec_drop_bullets_ = c.Has("rec_drop_bullets") && c.Bool("rec_drop_bullets");
  rec_dense_pitch_ = c.Has("rec_dense_pitch") ? c.Double("rec_dense_pitch") : 0.0;
  rec_dense_stretch_ = rec_dense_pitch_ > 0.0 ? c.Double("rec_dense_stretch") : 1.0;  // needed when reading again
  rec_dense_sure_ = rec_dense_pitch_ > 0.0 ? c.Double("rec_dense_sure") : 0.0;
  rec_unsure_blur_ = c.Has("rec_unsure_blur") ? c.Double("rec_unsure_blur") : 0.0;
  rec_unsure_below_ = rec_unsure_blur_ > 0.0 ? c.Double("rec_unsure_below") : 0.0;  // needed when reading again
  characters_ = LoadCharacters(dict_path, c.Bool("use_space_char"));
  use_angle_cls_ = c.Bool("use_angle_cls") && cls_ != nullptr;
  // configs written before the key read pages as they are
  use_doc_orientation_classify_ =
      c.Has("use_doc_orientation_classify") && c.Bool("use_doc_orientation_classify") && cls_ != nullptr;
  drop_score_ = c.Double("drop_score");
  light_text_share_ = c.Has("light_text_share") ? c.Double("light_text_share") : 1.0;  // 1: pages as they are
  light_text_height_ = light_text_share_ < 1.0 ? c.Double("light_text_height") : 0.0;
  reading_order_ = ReadReadingOrder(c);
  OrderBoxes({}, reading_order_);  // an unknown order fails at load, not at the first image
}

// pipeline.py's TextDetector.detect: a second pass, zoomed, when the first finds small text; where
// det_max_side_limit leaves no room to zoom (a long image already seen at the cap), the first map traced again.
// An image longer than the cap at the config's resize is detected in windows, both passes. Lines of large text
// split at their spaces are joined where a far pass sees them whole (JoinSplitLines; not in windows).
std::vector<Quad> OcrSystem::Detect(const cv::Mat& img, bool found_nothing, bool* may_look_closer) {
  const int window = WindowLength(img);
  int input_long_side = 0;
  ShapeInfo info;
  Tensor prob;
  std::vector<Quad> boxes;
  if (found_nothing) {  // the first pass is not run again: only the size of its input counts
    input_long_side = InputLongSide(img);
  } else if (window) {
    boxes = DetectInWindows(img, window, 0.0);
    input_long_side = InputLongSide(img);
  } else {
    prob = RunDetector(img, det_limit_side_len_, det_limit_type_, &info, &input_long_side);
    boxes = Trace(img, prob, info, false);
  }
  if (may_look_closer) *may_look_closer = !boxes.empty() && LooksCloserAtUnread();
  int border = DetectionBorder(img.rows, img.cols, det_border_);
  int source_long_side = std::max(img.rows, img.cols) + 2 * border;
  // windows bound the input at any scale: the zoom is capped only where the image is seen whole
  auto long_side = [&](int cap, bool past_own_size) {
    return SmallTextLongSide(boxes, source_long_side, input_long_side, det_small_text_, cap, past_own_size);
  };
  int cap = window ? 0 : det_max_side_limit_;
  // words and lines found small in a photo or a scan may be zoomed past its own size; not the squarish pieces found
  // of large letters, nor rendered print (nearly all flat), nor a word or line crop (inside its border: its text is
  // shown at its size, nothing more to find past it); the image's pixels are looked at only where going past its
  // own size would change the zoom
  int own_size = long_side(cap, false), past_it = long_side(cap, true);
  bool past = !border && past_it != own_size && MedianAspect(boxes) >= det_small_text_.past_aspect &&
              FlatShare(img) < det_small_text_.rendered_share;
  int zoomed = past ? past_it : own_size;
  if (zoomed && boxes.empty() && SingleColour(img)) zoomed = 0;  // a blank page: nothing to look at closer
  if (zoomed && window) return DetectInWindows(img, window, double(zoomed) / source_long_side);
  if (zoomed)
    boxes = Detect(img, zoomed, "resize_long", nullptr, true);
  else if (!window && !boxes.empty() && long_side(0, past))  // only the cap stops it
    boxes = Trace(img, prob, info, true);
  if (window) return boxes;
  return JoinSplitLines(img, boxes, double(input_long_side) / source_long_side, input_long_side);
}

// pipeline.py's TextDetector.join_split_lines: lines of large text the first pass split at their spaces joined
// where a far pass, the image shrunk, sees them whole (det_join.h).
std::vector<Quad> OcrSystem::JoinSplitLines(const cv::Mat& img, const std::vector<Quad>& boxes, double scale,
                                            int input_long_side) {
  if (det_large_text_.above <= 0.0 || boxes.size() < 2) return boxes;
  const std::vector<double> heights = InputHeights(boxes, scale);
  const std::vector<int> pieces = SplitLineBoxes(boxes, heights, det_large_text_.above);
  const int far_side = pieces.empty() ? 0 : FarLongSide(heights, pieces, det_large_text_.height, input_long_side);
  if (!far_side) return boxes;
  const std::vector<Quad> far = Detect(img, far_side, "resize_long", nullptr, false);
  return ppocr::JoinSplitLines(boxes, far, heights, det_large_text_.above);
}

int OcrSystem::InputLongSide(const cv::Mat& img) const {
  if (WindowLength(img))  // the input's long side of the image, were it seen whole
    return static_cast<int>(std::max(img.rows, img.cols) *
                            DetScale(img.rows, img.cols, det_limit_side_len_, det_limit_type_, det_long_image_aspect_));
  const int border = DetectionBorder(img.rows, img.cols, det_border_);
  int h = 0, w = 0;
  DetTargetSize(img.rows + 2 * border, img.cols + 2 * border, det_limit_side_len_, det_limit_type_, &h, &w,
                det_max_side_limit_, border ? 0.0 : det_long_image_aspect_);
  return std::max(h, w);
}

bool OcrSystem::LooksCloserAtUnread() const {
  return det_small_text_.empty_unread && det_small_text_.below > 0.0 && det_small_text_.empty_zoom > 1.0;
}

int OcrSystem::WindowLength(const cv::Mat& img) const {
  if (det_window_overlap_ <= 0.0 || DetectionBorder(img.rows, img.cols, det_border_)) return 0;
  return DetWindowLength(img.rows, img.cols, det_limit_side_len_, det_limit_type_, det_max_side_limit_,
                         det_long_image_aspect_, det_window_below_);
}

std::vector<Quad> OcrSystem::DetectInWindows(const cv::Mat& img, int window, double zoom_scale) {
  const int axis = img.rows >= img.cols ? 0 : 1;
  const int short_side = std::min(img.rows, img.cols);
  if (zoom_scale > 0.0) window = std::max(static_cast<int>(det_max_side_limit_ / zoom_scale), short_side);
  // Python's round(): ties to even, as nearbyint in the default rounding mode
  const int overlap = static_cast<int>(std::nearbyint(det_window_overlap_ * short_side));
  std::vector<std::pair<int, int>> spans = WindowSpans(std::max(img.rows, img.cols), window, overlap);
  std::vector<std::vector<Quad>> found;
  for (const auto& span : spans) {
    const int length = span.second - span.first;
    cv::Mat part = (axis == 0 ? img(cv::Rect(0, span.first, img.cols, length))
                              : img(cv::Rect(span.first, 0, length, img.rows))).clone();
    std::vector<Quad> boxes =
        zoom_scale > 0.0 ? Detect(part, static_cast<int>(std::max(part.rows, part.cols) * zoom_scale), "resize_long",
                                  nullptr, true)
                         : Detect(part, det_limit_side_len_, det_limit_type_, nullptr, false);
    const cv::Point2f shift = axis == 0 ? cv::Point2f(0.f, float(span.first)) : cv::Point2f(float(span.first), 0.f);
    for (Quad& box : boxes)
      for (cv::Point2f& p : box) p += shift;
    found.push_back(boxes);
  }
  return MergeWindowBoxes(found, spans, axis, img.rows, img.cols);
}

std::vector<Quad> OcrSystem::Detect(const cv::Mat& img, int limit_side_len, const std::string& limit_type,
                                    int* input_long_side, bool second_pass) {
  ShapeInfo info;
  // pipeline.py's detect_once: a second pass sees the page in grey where det_small_text_grey says so
  const cv::Mat seen = second_pass && det_small_text_.grey ? AsGrey(img) : img;
  Tensor prob = RunDetector(seen, limit_side_len, limit_type, &info, input_long_side);
  return Trace(img, prob, info, second_pass);
}

Tensor OcrSystem::RunDetector(const cv::Mat& img, int limit_side_len, const std::string& limit_type, ShapeInfo* info,
                              int* input_long_side) {
  // a small image is detected inside a border (pipeline.py's TextDetector), its boxes moved back into the image;
  // such an image is a line, not a long page: shrunk by its long side
  int border = DetectionBorder(img.rows, img.cols, det_border_);
  cv::Mat resized = DetResize(border ? AddBorder(img, border) : img, limit_side_len, limit_type, info,
                              det_max_side_limit_, border ? 0.0 : det_long_image_aspect_);
  Tensor input;
  input.shape = {1, 3, resized.rows, resized.cols};
  input.data.resize(input.numel());
  NormalizeToCHW(resized, det_mean_, det_std_, det_scale_, input.data.data());
  if (input_long_side) *input_long_side = std::max(resized.rows, resized.cols);
  Tensor prob = det_->Run(input);
  if (prob.shape.size() != 4 || prob.shape[0] != 1)
    throw std::runtime_error("det output must be [1, 1, H, W]");
  return prob;
}

std::vector<Quad> OcrSystem::Trace(const cv::Mat& img, const Tensor& prob, const ShapeInfo& info,
                                   bool second_pass) const {
  int border = DetectionBorder(img.rows, img.cols, det_border_);
  int h = int(prob.shape[2]), w = int(prob.shape[3]);
  DBParams db = db_;
  if (second_pass && det_small_text_.unclip_ratio > 0)
    db.unclip_ratio = det_small_text_.unclip_ratio;
  else if (border && det_border_.unclip_ratio > 0)
    db.unclip_ratio = det_border_.unclip_ratio;
  if (second_pass && !det_small_text_.score_mode.empty()) db.score_mode = det_small_text_.score_mode;
  std::vector<Quad> boxes = DBPostProcess(prob.data.data(), h, w, info, db);
  for (Quad& box : boxes)
    for (cv::Point2f& p : box) p -= cv::Point2f(float(border), float(border));
  return FilterTagDetRes(boxes, img.rows, img.cols);
}

std::vector<size_t> OrderByAspectRatio(const std::vector<cv::Mat>& crops) {
  std::vector<size_t> order(crops.size());
  std::vector<double> ratios(crops.size());
  for (size_t i = 0; i < crops.size(); ++i) {
    order[i] = i;
    ratios[i] = crops[i].cols / double(crops[i].rows);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ratios[a] < ratios[b]; });
  return order;
}

std::vector<std::vector<float>> OcrSystem::ClsProbabilities(const std::vector<cv::Mat>& crops,
                                                             const std::vector<size_t>& order) {
  std::vector<std::vector<float>> probs(crops.size());
  for (size_t start = 0; start < order.size(); start += cls_batch_num_) {
    size_t end = std::min(order.size(), start + cls_batch_num_);
    Tensor batch;
    batch.shape = {int64_t(end - start), 3, cls_h_, cls_w_};
    batch.data.resize(batch.numel());
    const size_t item = size_t(3) * cls_h_ * cls_w_;
    for (size_t k = start; k < end; ++k)
      ResizeNormPad(crops[order[k]], cls_h_, cls_w_, batch.data.data() + (k - start) * item);
    Tensor out = cls_->Run(batch);
    size_t num_labels = size_t(out.shape.back());
    for (size_t k = start; k < end; ++k) {
      const float* row = out.data.data() + (k - start) * num_labels;
      probs[order[k]].assign(row, row + num_labels);
    }
  }
  return probs;
}

std::vector<std::pair<int, float>> OcrSystem::Classify(std::vector<cv::Mat>* crops) {
  std::vector<std::vector<float>> probs = ClsProbabilities(*crops, OrderByAspectRatio(*crops));
  std::vector<std::pair<int, float>> results(crops->size(), {0, 0.f});
  for (size_t i = 0; i < crops->size(); ++i) results[i] = ClsDecode(probs[i].data(), 1, int(probs[i].size()))[0];
  // A crop not found upright for sure: also the crop turned by 180 degrees (cls_turned_view), then its pieces
  // (a long one), as pipeline.TextClassifier._more_views.
  std::vector<size_t> owners;
  std::vector<cv::Mat> views;
  std::vector<bool> turned;
  for (size_t i = 0; i < crops->size(); ++i) {
    const cv::Mat& crop = (*crops)[i];
    if (cls_labels_.at(results[i].first).find("180") == std::string::npos && results[i].second > cls_upright_sure_)
      continue;
    if (cls_turned_view_) {
      cv::Mat rotated;
      cv::rotate(crop, rotated, cv::ROTATE_180);
      owners.push_back(i);
      views.push_back(rotated);
      turned.push_back(true);
    }
    for (const auto& span : ClsPieceSpans(crop.cols, crop.rows, cls_h_, cls_w_, cls_pieces_above_, cls_max_pieces_)) {
      owners.push_back(i);
      views.push_back(crop(cv::Range::all(), cv::Range(span.first, span.second)));
      turned.push_back(false);
    }
  }
  if (!views.empty()) {
    std::vector<size_t> in_order(views.size());  // each view is resized into the input's shape: batched in order
    for (size_t k = 0; k < in_order.size(); ++k) in_order[k] = k;
    std::vector<std::vector<float>> view_probs = ClsProbabilities(views, in_order);
    std::vector<std::vector<std::vector<float>>> votes(crops->size());
    for (size_t k = 0; k < views.size(); ++k) {
      if (votes[owners[k]].empty()) votes[owners[k]].push_back(probs[owners[k]]);
      // the turned crop's "upright" is a vote for "180": its two labels swapped
      if (turned[k]) std::reverse(view_probs[k].begin(), view_probs[k].end());
      votes[owners[k]].push_back(view_probs[k]);
    }
    for (size_t i = 0; i < crops->size(); ++i) {
      if (votes[i].empty()) continue;
      std::vector<float> combined = CombineVotes(votes[i]);
      results[i] = ClsDecode(combined.data(), 1, int(combined.size()))[0];
    }
  }
  for (size_t i = 0; i < crops->size(); ++i) {
    const std::string& label = cls_labels_.at(results[i].first);
    if (label.find("180") != std::string::npos && results[i].second > cls_thresh_) {
      cv::Mat rotated;
      cv::rotate((*crops)[i], rotated, cv::ROTATE_180);
      (*crops)[i] = rotated;
    }
  }
  return results;
}

std::vector<std::pair<std::string, float>> OcrSystem::Recognize(const std::vector<cv::Mat>& crops) {
  std::vector<std::pair<std::string, float>> results = ReadDense(crops);
  if (rec_unsure_blur_ <= 0.0) return results;
  // pipeline.py's TextRecognizer._recognize: an unsure read is read again from the crop blurred
  std::vector<size_t> unsure;
  std::vector<cv::Mat> soft;
  for (size_t i = 0; i < crops.size(); ++i) {
    if (results[i].second < rec_unsure_below_) {
      unsure.push_back(i);
      soft.push_back(Blurred(crops[i], rec_unsure_blur_, rec_h_));
    }
  }
  if (unsure.empty()) return results;
  std::vector<std::pair<std::string, float>> again = ReadDense(soft);
  for (size_t k = 0; k < unsure.size(); ++k)
    if (SoftenedIsBetter(results[unsure[k]], again[k])) results[unsure[k]] = again[k];
  return results;
}

std::vector<std::pair<std::string, float>> OcrSystem::ReadDense(const std::vector<cv::Mat>& crops) {
  std::vector<double> steps;
  std::vector<std::pair<std::string, float>> results = ReadOnce(crops, &steps);
  if (rec_dense_pitch_ <= 0.0) return results;
  // pipeline.py's TextRecognizer._read_dense: CTC needs a blank step between two equal characters
  std::vector<size_t> dense;
  std::vector<cv::Mat> wider;
  for (size_t i = 0; i < crops.size(); ++i) {
    const size_t chars = Utf8Length(results[i].first);
    if (chars > 0 && results[i].second < rec_dense_sure_ && steps[i] / double(chars) < rec_dense_pitch_) {
      dense.push_back(i);
      wider.push_back(Stretched(crops[i], rec_dense_stretch_));
    }
  }
  if (dense.empty()) return results;
  std::vector<double> wider_steps;
  std::vector<std::pair<std::string, float>> again = ReadOnce(wider, &wider_steps);
  for (size_t k = 0; k < dense.size(); ++k)
    if (again[k].second > results[dense[k]].second) results[dense[k]] = again[k];
  return results;
}

std::vector<std::pair<std::string, float>> OcrSystem::ReadOnce(const std::vector<cv::Mat>& crops,
                                                                std::vector<double>* steps) {
  std::vector<std::pair<std::string, float>> results(crops.size(), {"", 0.f});
  steps->assign(crops.size(), 0.0);
  std::vector<size_t> order = OrderByAspectRatio(crops);
  const double min_ratio = rec_w_ / double(rec_h_);
  auto ratio = [&](size_t i) { return std::max(min_ratio, crops[i].cols / double(crops[i].rows)); };
  // PaddleOCR's batches of rec_batch_num, each split before the first crop wider than rec_max_pad_ratio
  // times the batch's narrowest (as pipeline.py's batches_by_aspect_ratio): no crop is padded beyond that.
  for (size_t chunk = 0; chunk < order.size(); chunk += rec_batch_num_) {
    const size_t chunk_end = std::min(order.size(), chunk + rec_batch_num_);
    for (size_t start = chunk, end = chunk; start < chunk_end; start = end) {
      const int narrowest = RecBatchWidth(rec_h_, ratio(order[start]));
      end = start + 1;
      while (end < chunk_end && (rec_max_pad_ratio_ <= 0.0 ||
                                 RecBatchWidth(rec_h_, ratio(order[end])) <= rec_max_pad_ratio_ * narrowest))
        ++end;
      const int width = RecBatchWidth(rec_h_, ratio(order[end - 1]));
      Tensor batch;
      batch.shape = {int64_t(end - start), 3, rec_h_, width};
      batch.data.resize(batch.numel());
      const size_t item = size_t(3) * rec_h_ * width;
      for (size_t k = start; k < end; ++k) ResizeNormPad(crops[order[k]], rec_h_, width, batch.data.data() + (k - start) * item);
      Tensor out = rec_->Run(batch);
      if (out.shape.size() != 3) throw std::runtime_error("rec output must be [N, T, C]");
      auto decoded = CTCDecode(out.data.data(), int(out.shape[0]), int(out.shape[1]), int(out.shape[2]), characters_,
                               rec_mixed_case_prior_);
      for (size_t k = start; k < end; ++k) {
        results[order[k]] = decoded[k - start];
        (*steps)[order[k]] = RecResizedWidth(crops[order[k]], rec_h_, width) * double(out.shape[1]) / width;
      }
    }
  }
  return results;
}

std::vector<cv::Mat> OcrSystem::CropsOf(const cv::Mat& img, const std::vector<Quad>& boxes) const {
  std::vector<cv::Mat> crops;
  for (const Quad& box : boxes) crops.push_back(GetRotateCropImage(img, box));
  return crops;
}

std::vector<std::pair<bool, float>> OcrSystem::Flipped(const std::vector<std::pair<int, float>>& labels) const {
  std::vector<std::pair<bool, float>> out;
  for (const auto& label : labels)
    out.push_back({cls_labels_.at(label.first).find("180") != std::string::npos, label.second});
  return out;
}

int OcrSystem::FullSize(const cv::Mat& img) const {
  int long_side = std::max(img.rows, img.cols);
  if (det_max_side_limit_ > 0) long_side = std::min(long_side, det_max_side_limit_);
  int h = 0, w = 0;
  DetTargetSize(img.rows, img.cols, det_limit_side_len_, det_limit_type_, &h, &w, det_max_side_limit_,
                DetectionBorder(img.rows, img.cols, det_border_) ? 0.0 : det_long_image_aspect_);
  return std::max(h, w) >= kOrientationRecountShrunkBelow * long_side ? 0 : long_side;
}

// pipeline.py's TextSystem._page_angle: unless the votes say "upright" clearly, a page the resize shrank far is
// decided by the lines found at its own size.
int OcrSystem::PageAngleOf(const cv::Mat& img, const std::vector<Quad>& boxes,
                           const std::vector<std::pair<int, float>>& labels) {
  OrientationVotes votes = CountVotes(boxes, Flipped(labels));
  if (IsClearlyUpright(votes)) return 0;
  int full_size = FullSize(img);
  if (full_size == 0) return PageAngle(votes);
  std::vector<Quad> full_boxes = Detect(img, full_size, "max");
  if (full_boxes.empty()) return 0;
  std::vector<cv::Mat> full_crops = CropsOf(img, full_boxes);
  return PageAngle(CountVotes(full_boxes, Flipped(Classify(&full_crops))));
}

// pipeline.py's TextSystem._reading_crops: each line's crop as the recognizer reads it, widened along the line where
// its box ends on ink (rec_widen_inked_ends), turned where the classifier's label (when classified) says "180".
std::vector<cv::Mat> OcrSystem::ReadingCrops(const cv::Mat& page, const std::vector<Quad>& boxes,
                                             const std::vector<cv::Mat>& crops,
                                             const std::vector<std::pair<int, float>>& labels) const {
  std::vector<cv::Mat> out;
  for (size_t i = 0; i < crops.size(); ++i) {
    cv::Mat crop = crops[i];
    int crop_w = 0, crop_h = 0;
    CropSize(boxes[i], &crop_w, &crop_h);
    const bool turned = !labels.empty() && cls_labels_.at(labels[i].first).find("180") != std::string::npos &&
                        labels[i].second > cls_thresh_;
    if (crop_h * 1.0 / crop_w < 1.5) crop = LineAsRead(page, boxes[i], crop, turned);  // not a line read sideways
    if (turned) {
      cv::Mat rotated;
      cv::rotate(crop, rotated, cv::ROTATE_180);
      crop = rotated;
    }
    out.push_back(crop);
  }
  return out;
}

// pipeline.py's TextSystem._line_as_read: the crop (before the turn) of a line read as it lies, widened where its
// box ends on ink, then from the text after a leading bullet (as read: a turned line starts at its crop's right end).
cv::Mat OcrSystem::LineAsRead(const cv::Mat& page, Quad box, cv::Mat crop, bool turned) const {
  if (rec_widen_inked_ends_ > 0.0) {
    bool left = false, right = false;
    InkedEnds(crop, rec_ink_strip_, rec_ink_share_, &left, &right);
    if (left || right) {
      box = WidenedBox(box, left, right, rec_widen_inked_ends_, page.rows, page.cols);
      crop = GetRotateCropImage(page, box);
    }
  }
  if (rec_drop_bullets_) {
    cv::Mat as_read;  // a new matrix: rotating into one that shares the crop's pixels would turn the crop itself
    if (turned) cv::rotate(crop, as_read, cv::ROTATE_180); else as_read = crop;
    const int end = LeadingBulletEnd(as_read);
    if (end) {
      const Quad rest = BoxFromColumn(box, float(turned ? crop.cols - end : end), turned);
      int rest_w = 0, rest_h = 0;
      CropSize(rest, &rest_w, &rest_h);
      if (rest_w > 0 && rest_h > 0) crop = GetRotateCropImage(page, rest);  // as Python's _crop_or_none
    }
  }
  return crop;
}

// pipeline.py's TextSystem.__call__: an image of which no line found is read is read again as one in which the
// detector's first pass found nothing.
std::vector<OcrResult> OcrSystem::Run(const cv::Mat& given, int* angle_out) {
  bool may_look_closer = false;
  std::vector<OcrResult> results = Read(given, false, &may_look_closer, angle_out);
  if (results.empty() && may_look_closer) results = Read(given, true, &may_look_closer, angle_out);
  return results;
}

// pipeline.py's TextSystem._read; found_nothing: each detection of this reading sets its first pass aside.
std::vector<OcrResult> OcrSystem::Read(const cv::Mat& given, bool found_nothing, bool* may_look_closer,
                                       int* angle_out) {
  cv::Mat img = given;
  std::vector<Quad> boxes = OrderBoxes(Detect(img, found_nothing, may_look_closer), reading_order_);
  std::vector<cv::Mat> crops = CropsOf(img, boxes);
  // pipeline.py's TextSystem._reads_inverted: a page of mostly light lines on a dark ground, read inverted
  if (light_text_share_ < 1.0 && !crops.empty() && LightTextShare(crops) > light_text_share_ &&
      MedianHeight(crops) >= light_text_height_) {
    cv::bitwise_not(given, img);
    boxes = OrderBoxes(Detect(img, found_nothing, may_look_closer), reading_order_);
    crops = CropsOf(img, boxes);
  }
  cv::Mat page = img;
  int angle = 0;
  std::vector<std::pair<int, float>> labels;  // the lines' classifier results, when they are classified
  if (use_doc_orientation_classify_ && !crops.empty()) {
    std::vector<cv::Mat> turned = crops;  // Classify replaces the crops it turns: `crops` keeps them as cut
    labels = Classify(&turned);
    angle = PageAngleOf(img, boxes, labels);
    if (angle) {
      page = TurnImage(img, angle);
      boxes = OrderBoxes(Detect(page, found_nothing, may_look_closer), reading_order_);
      crops = CropsOf(page, boxes);
    }
    if (angle || !use_angle_cls_) labels.clear();  // the page's classifier answers are its lines' only when kept
  }
  if (angle_out) *angle_out = angle;
  if (use_angle_cls_ && labels.empty() && !crops.empty()) {
    std::vector<cv::Mat> turned = crops;
    labels = Classify(&turned);
  }
  std::vector<std::pair<std::string, float>> texts;
  if (!crops.empty()) texts = Recognize(ReadingCrops(page, boxes, crops, labels));
  std::vector<OcrResult> results;
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (texts[i].second < drop_score_) continue;
    OcrResult r;
    for (int k = 0; k < 4; ++k)
      r.points[k] = PointBeforeTurn(cv::Point(int(boxes[i][k].x), int(boxes[i][k].y)), angle, img.rows, img.cols);
    r.text = texts[i].first;
    r.score = texts[i].second;
    results.push_back(r);
  }
  return results;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);  // UTF-8 passes through (ensure_ascii=False)
        }
    }
  }
  return out + "\"";
}

std::string FormatFloat(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string ResultsToJson(const std::vector<OcrResult>& results) {
  std::string out = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const OcrResult& r = results[i];
    if (i) out += ", ";
    out += "{\"transcription\": " + JsonString(r.text) + ", \"points\": [";
    for (int k = 0; k < 4; ++k) {
      if (k) out += ", ";
      out += "[" + std::to_string(r.points[k].x) + ", " + std::to_string(r.points[k].y) + "]";
    }
    out += "], \"score\": " + FormatFloat(static_cast<double>(r.score)) + "}";
  }
  return out + "]";
}

}  // namespace ppocr
