// Test driver for the C++ pre/post-processing (no Paddle-Lite): tests/test_lite_cpp.py writes the inputs as .npy,
// runs one command and compares what it prints (JSON) or writes (.npy) with paddle_pp's Python functions.
//
// Images are given as .npy too (uint8 HxWx3, BGR as cv2.imread decodes them), so the driver needs no imgcodecs,
// whose Debian -dev packages cannot be installed for amd64 and arm64 side by side.
//
//   det_pre CONFIG IMAGE.npy OUT.npy                     -> {"shape_info": [...], "border": B}; OUT = CHW float32
//       input (of the image inside its border when the config gives a small image one)
//   db_post CONFIG PROB.npy SRC_H SRC_W RATIO_H RATIO_W -> {"raw": boxes, "filtered": boxes, "sorted": boxes}
//       ("sorted": in the config's reading_order)
//   order READING_ORDER BOXES.npy                        -> {"order": [...]}: indices of the float32 [K, 4, 2] boxes
//   crop IMAGE.npy BOXES.npy OUT_PREFIX                   -> writes OUT_PREFIX<i>.npy (uint8 HWC) per box
//   cls_batches CONFIG OUT_PREFIX CROP.npy...         -> {"order": [...]}; OUT_PREFIX<b>.npy per batch
//   rec_batches CONFIG OUT_PREFIX CROP.npy...         -> {"order": [...]}; OUT_PREFIX<b>.npy per batch
//   ctc DICT USE_SPACE PREDS.npy [MIXED_CASE_PRIOR]   -> [[text, score], ...]
//   cls_post PREDS.npy                                -> [[label index, score], ...]
//   cls_votes VOTES.npy                               -> [p, ...]: CombineVotes of the float32 [V, C] rows
//   cls_pieces W H CLS_H CLS_W PIECES_ABOVE MAX_PIECES -> [[left, right], ...]: ClsPieceSpans
//   window_length H W LIMIT_SIDE_LEN LIMIT_TYPE MAX_SIDE_LIMIT LONG_IMAGE_ASPECT WINDOW_BELOW -> N: DetWindowLength
//   window_spans LENGTH WINDOW OVERLAP                -> [[start, end], ...]: WindowSpans
//   merge_windows AXIS ROWS COLS SPANS.npy BOXES.npy COUNTS.npy -> boxes: MergeWindowBoxes of the float32 [K, 4, 2]
//       boxes, COUNTS[k] of them window k's, the windows at the float32 [W, 2] spans
//   bullet CROP.npy                                   -> {"end": N}: LeadingBulletEnd of the uint8 HxWx3 crop
//   box_from_column BOXES.npy COLUMN FROM_RIGHT       -> boxes: BoxFromColumn of each float32 [K, 4, 2] box
//   join_lines SCALE ABOVE HEIGHT INPUT_LONG_SIDE BOXES.npy FAR.npy -> {"pieces": [...], "far_side": N, "boxes":
//       boxes}: SplitLineBoxes, FarLongSide and JoinSplitLines of the float32 [K, 4, 2] boxes and far boxes
//   system CONFIG DICT IMAGE.npy                         -> the whole OcrSystem; each model call is sent to the
//       caller on stdout ("RUN name ndim dims...\n" + float32 data) and its output read from stdin
//       ("ndim dims...\n" + float32 data); the last lines are "ANGLE <page angle>" and "RESULT <json>".
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core/utility.hpp>

#include "config.h"
#include "crop.h"
#include "db_postprocess.h"
#include "det_join.h"
#include "decode.h"
#include "det_windows.h"
#include "npy.h"
#include "ocr_system.h"
#include "preprocess.h"
#include "reading_order.h"

using namespace ppocr;  // NOLINT

static std::string BoxesJson(const std::vector<Quad>& boxes) {
  std::string out = "[";
  for (size_t i = 0; i < boxes.size(); ++i) {
    out += i ? ", [" : "[";
    for (int k = 0; k < 4; ++k)
      out += (k ? ", [" : "[") + FormatFloat(boxes[i][k].x) + ", " + FormatFloat(boxes[i][k].y) + "]";
    out += "]";
  }
  return out + "]";
}

// float32 [K, 4, 2] boxes stored as .npy (an empty array: none).
static std::vector<Quad> QuadsFromNpy(const std::string& path) {
  NpyArray boxes = LoadNpy(path);
  std::vector<Quad> quads(boxes.shape.empty() ? 0 : size_t(boxes.shape[0]));
  for (size_t i = 0; i < quads.size(); ++i)
    for (int j = 0; j < 4; ++j) quads[i][j] = cv::Point2f(boxes.f32()[i * 8 + j * 2], boxes.f32()[i * 8 + j * 2 + 1]);
  return quads;
}

// An 8-bit HxWx3 image or crop stored as .npy.
static cv::Mat CropFromNpy(const std::string& path) {
  NpyArray a = LoadNpy(path);
  if (a.descr != "|u1" || a.shape.size() != 3 || a.shape[2] != 3) throw std::runtime_error(path + ": need uint8 HxWx3");
  cv::Mat m(int(a.shape[0]), int(a.shape[1]), CV_8UC3);
  std::memcpy(m.data, a.bytes.data(), a.bytes.size());
  return m;
}

static void SaveTensor(const std::string& path, const Tensor& t) {
  SaveNpy(path, "<f4", t.shape, t.data.data(), t.data.size() * sizeof(float));
}

// [[first, second], ...] of integer pairs: ClsPieceSpans, WindowSpans.
static std::string SpansJson(const std::vector<std::pair<int, int>>& spans) {
  std::string out = "[";
  for (size_t i = 0; i < spans.size(); ++i)
    out += (i ? ", [" : "[") + std::to_string(spans[i].first) + ", " + std::to_string(spans[i].second) + "]";
  return out + "]";
}

static std::string OrderJson(const std::vector<size_t>& order) {
  std::string out = "[";
  for (size_t i = 0; i < order.size(); ++i) out += (i ? ", " : "") + std::to_string(order[i]);
  return out + "]";
}

// Records the batches OcrSystem would build: the same order and widths, then decodes nothing.
static int Batches(const Config& c, bool rec, const std::string& prefix, const std::vector<std::string>& files) {
  std::vector<cv::Mat> crops;
  for (const std::string& f : files) crops.push_back(CropFromNpy(f));
  std::vector<size_t> order = OrderByAspectRatio(crops);
  std::vector<double> shape = c.Doubles(rec ? "rec_image_shape" : "cls_image_shape");
  int h = int(shape[1]), w = int(shape[2]);
  int batch_num = c.Int(rec ? "rec_batch_num" : "cls_batch_num");
  int b = 0;
  for (size_t start = 0; start < order.size(); start += batch_num, ++b) {
    size_t end = std::min(order.size(), start + batch_num);
    int width = w;
    if (rec) {
      double max_ratio = w / double(h);
      for (size_t k = start; k < end; ++k) max_ratio = std::max(max_ratio, crops[order[k]].cols / double(crops[order[k]].rows));
      width = RecBatchWidth(h, max_ratio);
    }
    Tensor t;
    t.shape = {int64_t(end - start), 3, h, width};
    t.data.resize(t.numel());
    for (size_t k = start; k < end; ++k)
      ResizeNormPad(crops[order[k]], h, width, t.data.data() + (k - start) * size_t(3) * h * width);
    SaveTensor(prefix + std::to_string(b) + ".npy", t);
  }
  std::cout << "{\"order\": " << OrderJson(order) << "}" << std::endl;
  return 0;
}

class PipePredictor : public Predictor {
 public:
  explicit PipePredictor(std::string name) : name_(std::move(name)) {}
  Tensor Run(const Tensor& input) override {
    std::string header = "RUN " + name_ + " " + std::to_string(input.shape.size());
    for (int64_t d : input.shape) header += " " + std::to_string(d);
    header += "\n";
    std::fwrite(header.data(), 1, header.size(), stdout);
    std::fwrite(input.data.data(), sizeof(float), input.data.size(), stdout);
    std::fflush(stdout);
    Tensor out;
    int ndim = 0;
    if (std::scanf("%d", &ndim) != 1) throw std::runtime_error("pipe: no reply");
    out.shape.resize(ndim);
    for (int i = 0; i < ndim; ++i) {
      long long d = 0;
      if (std::scanf("%lld", &d) != 1) throw std::runtime_error("pipe: bad shape");
      out.shape[i] = d;
    }
    if (std::fgetc(stdin) != '\n') throw std::runtime_error("pipe: bad header");
    out.data.resize(out.numel());
    if (std::fread(out.data.data(), sizeof(float), out.data.size(), stdin) != out.data.size())
      throw std::runtime_error("pipe: short data");
    return out;
  }

 private:
  std::string name_;
};

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COMMAND ARGS... (see the source)\n", argv[0]);
    return 2;
  }
  // OpenCV's worker threads occasionally deadlock under qemu-user; the results do not depend on them.
  cv::setNumThreads(0);
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "det_pre" && args.size() == 3) {
      Config c = Config::Load(args[0]);
      cv::Mat img = CropFromNpy(args[1]);
      int border = DetectionBorder(img.rows, img.cols, ReadDetBorder(c));
      ShapeInfo info;
      cv::Mat resized = DetResize(border ? AddBorder(img, border) : img, c.Int("det_limit_side_len"),
                                  c.Str("det_limit_type"), &info, ReadDetMaxSideLimit(c),
                                  border ? 0.0 : ReadDetLongImageAspect(c));
      Tensor t;
      t.shape = {3, resized.rows, resized.cols};
      t.data.resize(t.numel());
      NormalizeToCHW(resized, c.Doubles("det_mean"), c.Doubles("det_std"), c.Double("det_scale"), t.data.data());
      SaveTensor(args[2], t);
      std::cout << "{\"shape_info\": [" << info.src_h << ", " << info.src_w << ", " << FormatFloat(info.ratio_h)
                << ", " << FormatFloat(info.ratio_w) << "], \"border\": " << border
                << ", \"flat_share\": " << FormatFloat(FlatShare(img)) << "}" << std::endl;
      return 0;
    }
    if (cmd == "db_post" && args.size() == 6) {
      Config c = Config::Load(args[0]);
      NpyArray prob = LoadNpy(args[1]);
      int h = int(prob.shape[prob.shape.size() - 2]), w = int(prob.shape.back());
      ShapeInfo info;
      info.src_h = std::atoi(args[2].c_str());
      info.src_w = std::atoi(args[3].c_str());
      info.ratio_h = std::strtod(args[4].c_str(), nullptr);
      info.ratio_w = std::strtod(args[5].c_str(), nullptr);
      std::vector<Quad> raw = DBPostProcess(prob.f32(), h, w, info, ReadDBParams(c));
      std::vector<Quad> filtered = FilterTagDetRes(raw, info.src_h, info.src_w);
      std::cout << "{\"raw\": " << BoxesJson(raw) << ", \"filtered\": " << BoxesJson(filtered)
                << ", \"sorted\": " << BoxesJson(OrderBoxes(filtered, ReadReadingOrder(c)))
                << ", \"median_aspect\": " << FormatFloat(MedianAspect(filtered)) << "}" << std::endl;
      return 0;
    }
    if (cmd == "order" && args.size() == 2) {
      const std::vector<Quad> quads = QuadsFromNpy(args[1]);
      std::vector<size_t> order;
      if (args[0] == "rows") {
        order = RowOrder(quads);
      } else if (args[0] == "columns") {
        order = ColumnOrder(quads);
      } else {  // which box each of OrderBoxes' outputs is (boxes given are distinct)
        for (const Quad& q : OrderBoxes(quads, args[0]))
          for (size_t i = 0; i < quads.size(); ++i)
            if (quads[i] == q) order.push_back(i);
      }
      std::cout << "{\"order\": [";
      for (size_t i = 0; i < order.size(); ++i) std::cout << (i ? ", " : "") << order[i];
      std::cout << "]}" << std::endl;
      return 0;
    }
    if (cmd == "crop" && args.size() == 3) {
      cv::Mat img = CropFromNpy(args[0]);
      NpyArray boxes = LoadNpy(args[1]);
      int64_t k = boxes.shape[0];
      for (int64_t i = 0; i < k; ++i) {
        Quad q;
        for (int j = 0; j < 4; ++j) q[j] = cv::Point2f(boxes.f32()[i * 8 + j * 2], boxes.f32()[i * 8 + j * 2 + 1]);
        cv::Mat crop = GetRotateCropImage(img, q);
        cv::Mat cont = crop.isContinuous() ? crop : crop.clone();
        SaveNpy(args[2] + std::to_string(i) + ".npy", "|u1", {cont.rows, cont.cols, 3}, cont.data, cont.total() * 3);
      }
      std::cout << "{\"crops\": " << k << "}" << std::endl;
      return 0;
    }
    if ((cmd == "cls_batches" || cmd == "rec_batches") && args.size() >= 2) {
      Config c = Config::Load(args[0]);
      return Batches(c, cmd == "rec_batches", args[1], std::vector<std::string>(args.begin() + 2, args.end()));
    }
    if (cmd == "ctc" && (args.size() == 3 || args.size() == 4)) {
      std::vector<std::string> chars = LoadCharacters(args[0], args[1] == "1" || args[1] == "true");
      NpyArray preds = LoadNpy(args[2]);
      const double prior = args.size() == 4 ? std::stod(args[3]) : 0.0;
      auto decoded = CTCDecode(preds.f32(), int(preds.shape[0]), int(preds.shape[1]), int(preds.shape[2]), chars,
                               prior);
      std::string out = "[";
      for (size_t i = 0; i < decoded.size(); ++i)
        out += (i ? ", [" : "[") + JsonString(decoded[i].first) + ", " + FormatFloat(decoded[i].second) + "]";
      std::cout << out << "]" << std::endl;
      return 0;
    }
    if (cmd == "cls_post" && args.size() == 1) {
      NpyArray preds = LoadNpy(args[0]);
      auto decoded = ClsDecode(preds.f32(), int(preds.shape[0]), int(preds.shape[1]));
      std::string out = "[";
      for (size_t i = 0; i < decoded.size(); ++i)
        out += (i ? ", [" : "[") + std::to_string(decoded[i].first) + ", " + FormatFloat(decoded[i].second) + "]";
      std::cout << out << "]" << std::endl;
      return 0;
    }
    if (cmd == "cls_votes" && args.size() == 1) {
      NpyArray votes = LoadNpy(args[0]);
      int v = int(votes.shape[0]), k = int(votes.shape[1]);
      std::vector<std::vector<float>> rows;
      for (int i = 0; i < v; ++i) rows.emplace_back(votes.f32() + size_t(i) * k, votes.f32() + size_t(i + 1) * k);
      std::vector<float> combined = CombineVotes(rows);
      std::string out = "[";
      for (size_t i = 0; i < combined.size(); ++i) out += (i ? ", " : "") + FormatFloat(combined[i]);
      std::cout << out << "]" << std::endl;
      return 0;
    }
    if (cmd == "cls_pieces" && args.size() == 6) {
      auto spans = ClsPieceSpans(std::stoi(args[0]), std::stoi(args[1]), std::stoi(args[2]), std::stoi(args[3]),
                                 std::stod(args[4]), std::stoi(args[5]));
      std::cout << SpansJson(spans) << std::endl;
      return 0;
    }
    if (cmd == "window_length" && args.size() == 7) {
      std::cout << DetWindowLength(std::stoi(args[0]), std::stoi(args[1]), std::stoi(args[2]), args[3],
                                   std::stoi(args[4]), std::stod(args[5]), std::stod(args[6]))
                << std::endl;
      return 0;
    }
    if (cmd == "window_spans" && args.size() == 3) {
      auto spans = WindowSpans(std::stoi(args[0]), std::stoi(args[1]), std::stoi(args[2]));
      std::cout << SpansJson(spans) << std::endl;
      return 0;
    }
    if (cmd == "merge_windows" && args.size() == 6) {
      NpyArray spans_npy = LoadNpy(args[3]), boxes = LoadNpy(args[4]), counts = LoadNpy(args[5]);
      std::vector<std::pair<int, int>> spans;
      for (int64_t k = 0; k < spans_npy.shape[0]; ++k)
        spans.emplace_back(int(spans_npy.f32()[2 * k]), int(spans_npy.f32()[2 * k + 1]));
      std::vector<std::vector<Quad>> window_boxes(spans.size());
      size_t i = 0;
      for (size_t k = 0; k < spans.size(); ++k)
        for (int n = 0; n < int(counts.f32()[k]); ++n, ++i) {
          Quad q;
          for (int j = 0; j < 4; ++j) q[j] = cv::Point2f(boxes.f32()[i * 8 + j * 2], boxes.f32()[i * 8 + j * 2 + 1]);
          window_boxes[k].push_back(q);
        }
      std::cout << BoxesJson(MergeWindowBoxes(window_boxes, spans, std::stoi(args[0]), std::stoi(args[1]),
                                              std::stoi(args[2])))
                << std::endl;
      return 0;
    }
    if (cmd == "grey" && args.size() == 2) {
      const cv::Mat grey = AsGrey(CropFromNpy(args[0]));
      SaveNpy(args[1], "|u1", {grey.rows, grey.cols, 3}, grey.data, grey.total() * 3);
      std::cout << "{}" << std::endl;
      return 0;
    }
    if (cmd == "blur" && args.size() == 4) {
      const cv::Mat soft = Blurred(CropFromNpy(args[0]), std::stod(args[2]), std::stoi(args[3]));
      SaveNpy(args[1], "|u1", {soft.rows, soft.cols, 3}, soft.data, soft.total() * 3);
      std::cout << "{}" << std::endl;
      return 0;
    }
    if (cmd == "softened_is_better" && args.size() == 4) {  // cut text, its score, blurred text, its score
      const bool better = SoftenedIsBetter({args[0], std::stof(args[1])}, {args[2], std::stof(args[3])});
      std::cout << "{\"better\": " << (better ? "true" : "false") << "}" << std::endl;
      return 0;
    }
    if (cmd == "bullet" && args.size() == 1) {
      std::cout << "{\"end\": " << LeadingBulletEnd(CropFromNpy(args[0])) << "}" << std::endl;
      return 0;
    }
    if (cmd == "box_from_column" && args.size() == 3) {
      std::vector<Quad> parts;
      for (const Quad& box : QuadsFromNpy(args[0]))
        parts.push_back(BoxFromColumn(box, std::stof(args[1]), std::stoi(args[2]) != 0));
      std::cout << BoxesJson(parts) << std::endl;
      return 0;
    }
    if (cmd == "join_lines" && args.size() == 6) {
      const std::vector<Quad> boxes = QuadsFromNpy(args[4]), far = QuadsFromNpy(args[5]);
      const double above = std::stod(args[1]);
      const std::vector<double> heights = InputHeights(boxes, std::stod(args[0]));
      const std::vector<int> pieces = SplitLineBoxes(boxes, heights, above);
      const int far_side = pieces.empty() ? 0 : FarLongSide(heights, pieces, std::stod(args[2]), std::stoi(args[3]));
      std::ostringstream out;
      out << "{\"pieces\": [";
      for (size_t i = 0; i < pieces.size(); ++i) out << (i ? ", " : "") << pieces[i];
      out << "], \"far_side\": " << far_side << ", \"boxes\": " << BoxesJson(JoinSplitLines(boxes, far, heights, above))
          << "}";
      std::cout << out.str() << std::endl;
      return 0;
    }
    if (cmd == "system" && args.size() == 3) {
      Config c = Config::Load(args[0]);
      cv::Mat img = CropFromNpy(args[2]);
      PipePredictor det("det"), cls("cls"), rec("rec");
      OcrSystem system(c, &det, &cls, &rec, args[1]);
      int angle = 0;
      std::string json = ResultsToJson(system.Run(img, &angle));
      std::string line = "ANGLE " + std::to_string(angle) + "\nRESULT " + json + "\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown command or wrong arguments: %s\n", cmd.c_str());
  return 2;
}
