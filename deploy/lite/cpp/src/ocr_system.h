// det -> order -> crop -> cls -> rec, the same flow and numbers as paddle_pp/pipeline.py (TextSystem).
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "config.h"
#include "db_postprocess.h"
#include "det_join.h"
#include "predictor.h"

namespace ppocr {

struct OcrResult {
  std::array<cv::Point, 4> points;
  std::string text;
  float score = 0.f;
};

class OcrSystem {
 public:
  // cls may be null (no direction classifier); dict_path is the recognizer's character dictionary.
  OcrSystem(const Config& config, Predictor* det, Predictor* cls, Predictor* rec, const std::string& dict_path);

  // At the config's resize; an image whose text is found small, or none, is detected again, zoomed
  // (det_small_text_*); an image longer than det_max_side_limit there is detected in overlapping windows
  // (det_window_overlap). found_nothing: the first pass is set aside, the image looked at as one in which it found
  // nothing; may_look_closer (when not null): whether that could still be done (the first pass found boxes).
  std::vector<Quad> Detect(const cv::Mat& img, bool found_nothing = false, bool* may_look_closer = nullptr);
  // At the resize given instead of the config's, never zoomed (the page orientation's full-size pass), traced as
  // Trace does.
  std::vector<Quad> Detect(const cv::Mat& img, int limit_side_len, const std::string& limit_type,
                           int* input_long_side = nullptr, bool second_pass = false);
  // Rotates crops classified '180' with a score above cls_thresh, in place; returns (label index, score). A crop
  // not found upright whole scoring above cls_upright_sure is also classified turned by 180 degrees
  // (cls_turned_view) and, when wider than cls_pieces_above heights, in pieces (ClsPieceSpans), the votes combined.
  std::vector<std::pair<int, float>> Classify(std::vector<cv::Mat>* crops);
  // Each crop's (text, score) from ReadDense; a read scoring below rec_unsure_below is read again from the crop
  // blurred (rec_unsure_blur), and that read kept where it scores higher, is no shorter (spaces aside) and has no
  // fewer commas.
  std::vector<std::pair<std::string, float>> Recognize(const std::vector<cv::Mat>& crops);
  // The page's lines in reading order; with use_doc_orientation_classify the page is read upright, the points in
  // `img` as given, and `angle` (when not null) is the counter-clockwise turn that made it upright. An image of
  // which no line found is read is read again as one in which the first pass found nothing.
  std::vector<OcrResult> Run(const cv::Mat& img, int* angle = nullptr);

 private:
  // Each crop's (text, score); a dense line (rec_dense_pitch) is read again wider, the higher score kept.
  std::vector<std::pair<std::string, float>> ReadDense(const std::vector<cv::Mat>& crops);
  // One reading of Run's; found_nothing: each detection of it sets its first pass aside (Detect).
  std::vector<OcrResult> Read(const cv::Mat& img, bool found_nothing, bool* may_look_closer, int* angle);
  // pipeline.py's TextDetector.input_long_side: the long side of the network's input at the config's resize (of
  // the image's, were it seen whole, for one detected in windows).
  int InputLongSide(const cv::Mat& img) const;
  // An image of which no line found is read is detected again as one in which the first pass finds nothing, zoomed
  // (det_small_text_empty_unread, det_small_text_empty_zoom).
  bool LooksCloserAtUnread() const;
  // The detector's probability map [1, 1, H, W] of the image (inside its border when it gets one) at that resize.
  Tensor RunDetector(const cv::Mat& img, int limit_side_len, const std::string& limit_type, ShapeInfo* info,
                     int* input_long_side);
  // DB's boxes of that map in the image's pixels. A second pass (for text found small, or nothing found) grows them
  // by det_small_text_unclip_ratio and scores them by det_small_text_score_mode where given; otherwise, and where
  // not given, they are grown by the border's unclip ratio (an image inside its border) or det_db_unclip_ratio, and
  // scored by det_db_score_mode.
  std::vector<Quad> Trace(const cv::Mat& img, const Tensor& prob, const ShapeInfo& info, bool second_pass) const;
  // pipeline.py's TextDetector.window_length / detect_in_windows: the windows' long side at the config's resize
  // (0: whole), and the boxes found window by window, joined (det_windows.h); zoom_scale > 0: the zoomed pass.
  int WindowLength(const cv::Mat& img) const;
  // pipeline.py's TextDetector.join_split_lines: the boxes with the lines of large text the first pass split at
  // their spaces joined where a far pass sees them whole (det_join.h); `scale`: the first pass's input over the image.
  std::vector<Quad> JoinSplitLines(const cv::Mat& img, const std::vector<Quad>& boxes, double scale,
                                   int input_long_side);
  std::vector<Quad> DetectInWindows(const cv::Mat& img, int window, double zoom_scale);
  // Each crop's label probabilities, run in batches of cls_batch_num taken in this order of crop indices.
  std::vector<std::vector<float>> ClsProbabilities(const std::vector<cv::Mat>& crops,
                                                   const std::vector<size_t>& order);

  Predictor *det_, *cls_, *rec_;
  int det_limit_side_len_;
  int det_max_side_limit_;
  double det_long_image_aspect_;  // 0: PaddleOCR's resize (configs written before the key)
  double det_window_overlap_;  // 0: long images shrunk to the cap (configs written before the key)
  double det_window_below_;  // 1: wherever the cap shrinks the image (configs written before the key)
  DetBorder det_border_;  // preprocess.h; none for configs written before the keys
  SmallText det_small_text_;  // preprocess.h; never for configs written before the keys
  LargeText det_large_text_;  // det_join.h; never for configs written before the keys
  std::string det_limit_type_;
  std::vector<double> det_mean_, det_std_;
  double det_scale_;
  DBParams db_;
  int cls_h_, cls_w_, cls_batch_num_;
  double cls_thresh_;
  double cls_pieces_above_;  // 0: whole crops only (PaddleOCR, and configs written before the keys)
  int cls_max_pieces_;
  double cls_upright_sure_;  // a crop found upright whole with a score above this is taken as it is
  bool cls_turned_view_;     // false: no turned view (PaddleOCR, and configs written before the key)
  std::vector<std::string> cls_labels_;
  int rec_h_, rec_w_, rec_batch_num_;
  double rec_max_pad_ratio_;  // 0: no limit (PaddleOCR's batches)
  double rec_mixed_case_prior_;  // 0: greedy decoding only (PostProcess.mixed_case_prior empty)
  // a box ending on ink is read this many box heights wider there; 0: never (PaddleOCR, configs before the keys)
  double rec_widen_inked_ends_, rec_ink_strip_, rec_ink_share_;
  bool rec_drop_bullets_;  // a round bullet starting a line is cut off its crop; false: never (configs before the key)
  // a line with fewer than this many output steps a character, read less surely than rec_dense_sure, is read again
  // rec_dense_stretch times as wide, the higher score kept; 0: every crop read once (PaddleOCR, configs before the
  // keys)
  double rec_dense_pitch_, rec_dense_stretch_, rec_dense_sure_;
  // a read scoring below rec_unsure_below is read again from the crop blurred by rec_unsure_blur pixels of the input,
  // that read kept where it scores higher, is no shorter and keeps the commas; 0: never (PaddleOCR, configs before
  // the keys)
  double rec_unsure_blur_, rec_unsure_below_;
  std::vector<std::string> characters_;
  bool use_angle_cls_;
  bool use_doc_orientation_classify_;  // page_orientation.h
  // a page on which more than this share of the lines found are light on dark is read inverted; 1: never
  // (PaddleOCR, configs before the key)
  double light_text_share_;
  double light_text_height_;  // ... when the median height of their crops is at least this (pixels)

  // Each crop read once, in batches by aspect ratio; `steps`: the model's output steps its own width gave it.
  std::vector<std::pair<std::string, float>> ReadOnce(const std::vector<cv::Mat>& crops, std::vector<double>* steps);
  std::vector<cv::Mat> CropsOf(const cv::Mat& img, const std::vector<Quad>& boxes) const;
  std::vector<cv::Mat> ReadingCrops(const cv::Mat& page, const std::vector<Quad>& boxes,
                                    const std::vector<cv::Mat>& crops,
                                    const std::vector<std::pair<int, float>>& labels) const;
  // pipeline.py's TextSystem._line_as_read: a line read as it lies, widened where it ends on ink, without a bullet.
  cv::Mat LineAsRead(const cv::Mat& page, Quad box, cv::Mat crop, bool turned) const;
  std::vector<std::pair<bool, float>> Flipped(const std::vector<std::pair<int, float>>& labels) const;
  // The long side to detect the page at its own size, or 0 when the config's resize keeps enough of it.
  int FullSize(const cv::Mat& img) const;
  int PageAngleOf(const cv::Mat& img, const std::vector<Quad>& boxes, const std::vector<std::pair<int, float>>& labels);
  double drop_score_;
  std::string reading_order_;  // rows | paddleocr (reading_order.h)
};

// Crop indices ordered by width / height (stable), as the pipeline batches them.
std::vector<size_t> OrderByAspectRatio(const std::vector<cv::Mat>& crops);
// One image's results as our text format's JSON list: [{"transcription": ..., "points": ..., "score": ...}].
std::string ResultsToJson(const std::vector<OcrResult>& results);
std::string JsonString(const std::string& s);
std::string FormatFloat(double v);  // shortest round-trip repr, like Python's

}  // namespace ppocr
