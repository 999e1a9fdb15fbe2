#include "db_postprocess.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>
#include <polyclipping/clipper.hpp>

#include "crop.h"

namespace ppocr {

DBParams ReadDBParams(const Config& c) {
  DBParams p;
  p.thresh = c.Double("det_db_thresh");
  p.box_thresh = c.Double("det_db_box_thresh");
  p.max_candidates = c.Int("det_db_max_candidates");
  p.unclip_ratio = c.Double("det_db_unclip_ratio");
  p.use_dilation = c.Bool("det_use_dilation");
  p.score_mode = c.Str("det_db_score_mode");
  p.nested_thresh = c.Has("det_db_nested_thresh") ? c.Double("det_db_nested_thresh") : 0.0;  // older configs: off
  return p;
}

Quad GetMiniBoxes(const std::vector<cv::Point>& contour, float* short_side) {
  cv::RotatedRect rect = cv::minAreaRect(contour);
  cv::Point2f corners[4];
  rect.points(corners);  // cv2.boxPoints
  std::vector<cv::Point2f> pts(corners, corners + 4);
  std::stable_sort(pts.begin(), pts.end(), [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  int i1, i2, i3, i4;
  if (pts[1].y > pts[0].y) { i1 = 0; i4 = 1; } else { i1 = 1; i4 = 0; }
  if (pts[3].y > pts[2].y) { i2 = 2; i3 = 3; } else { i2 = 3; i3 = 2; }
  *short_side = std::min(rect.size.width, rect.size.height);
  return Quad{pts[i1], pts[i2], pts[i3], pts[i4]};
}

static int ClipInt(double v, int lo, int hi) { return static_cast<int>(std::min(std::max(v, double(lo)), double(hi))); }

double BoxScoreFast(const cv::Mat& pred, const Quad& box) {
  const int h = pred.rows, w = pred.cols;
  float xmin_f = box[0].x, xmax_f = box[0].x, ymin_f = box[0].y, ymax_f = box[0].y;
  for (const cv::Point2f& p : box) {
    xmin_f = std::min(xmin_f, p.x); xmax_f = std::max(xmax_f, p.x);
    ymin_f = std::min(ymin_f, p.y); ymax_f = std::max(ymax_f, p.y);
  }
  int xmin = ClipInt(std::floor(xmin_f), 0, w - 1), xmax = ClipInt(std::ceil(xmax_f), 0, w - 1);
  int ymin = ClipInt(std::floor(ymin_f), 0, h - 1), ymax = ClipInt(std::ceil(ymax_f), 0, h - 1);
  cv::Mat mask = cv::Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, CV_8UC1);
  std::vector<cv::Point> poly;
  for (const cv::Point2f& p : box)  // float32 shift, then astype(int32) truncates
    poly.emplace_back(static_cast<int>(p.x - static_cast<float>(xmin)), static_cast<int>(p.y - static_cast<float>(ymin)));
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(1));
  return cv::mean(pred(cv::Rect(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1)), mask)[0];
}

double BoxScoreSlow(const cv::Mat& pred, const std::vector<cv::Point>& contour) {
  const int h = pred.rows, w = pred.cols;
  int xmin = contour[0].x, xmax = contour[0].x, ymin = contour[0].y, ymax = contour[0].y;
  for (const cv::Point& p : contour) {
    xmin = std::min(xmin, p.x); xmax = std::max(xmax, p.x);
    ymin = std::min(ymin, p.y); ymax = std::max(ymax, p.y);
  }
  xmin = ClipInt(xmin, 0, w - 1); xmax = ClipInt(xmax, 0, w - 1);
  ymin = ClipInt(ymin, 0, h - 1); ymax = ClipInt(ymax, 0, h - 1);
  cv::Mat mask = cv::Mat::zeros(ymax - ymin + 1, xmax - xmin + 1, CV_8UC1);
  std::vector<cv::Point> poly;
  for (const cv::Point& p : contour) poly.emplace_back(p.x - xmin, p.y - ymin);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(1));
  return cv::mean(pred(cv::Rect(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1)), mask)[0];
}

// shapely's Polygon(box).area and .length (GEOS: shoelace relative to the first x, then segment lengths).
static void AreaAndLength(const Quad& box, double* area, double* length) {
  double xs[5], ys[5];
  for (int i = 0; i < 5; ++i) { xs[i] = box[i % 4].x; ys[i] = box[i % 4].y; }
  double sum = 0.0, x0 = xs[0];
  for (int i = 1; i < 4; ++i) sum += (xs[i] - x0) * (ys[i - 1] - ys[i + 1]);
  *area = std::fabs(sum / 2.0);
  double len = 0.0;
  for (int i = 1; i < 5; ++i) {
    double dx = xs[i] - xs[i - 1], dy = ys[i] - ys[i - 1];
    len += std::sqrt(dx * dx + dy * dy);
  }
  *length = len;
}

static ClipperLib::Paths Unclip(const Quad& box, double unclip_ratio) {
  double area, length;
  AreaAndLength(box, &area, &length);
  double distance = area * unclip_ratio / length;
  ClipperLib::Path path;
  for (const cv::Point2f& p : box)  // pyclipper converts float coordinates by truncation
    path.emplace_back(static_cast<ClipperLib::cInt>(p.x), static_cast<ClipperLib::cInt>(p.y));
  ClipperLib::ClipperOffset offset;  // miter limit 2, arc tolerance 0.25: pyclipper's defaults
  offset.AddPath(path, ClipperLib::jtRound, ClipperLib::etClosedPolygon);
  ClipperLib::Paths out;
  offset.Execute(out, distance);
  return out;
}

std::vector<Quad> DBPostProcess(const float* pred_data, int height, int width, const ShapeInfo& info,
                                const DBParams& params) {
  if (params.score_mode != "fast" && params.score_mode != "slow")
    throw std::invalid_argument("score_mode must be 'fast' or 'slow'");
  cv::Mat pred(height, width, CV_32FC1, const_cast<float*>(pred_data));
  const float thresh = static_cast<float>(params.thresh);  // numpy compares a float32 map in float32
  cv::Mat bitmap(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    const float* p = pred.ptr<float>(y);
    uint8_t* b = bitmap.ptr<uint8_t>(y);
    for (int x = 0; x < width; ++x) b[x] = p[x] > thresh ? 255 : 0;
  }
  if (params.use_dilation) {
    cv::Mat dilated;
    cv::dilate(bitmap, dilated, cv::Mat::ones(2, 2, CV_8UC1));
    bitmap = dilated;
  }
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bitmap, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  const size_t num = std::min(contours.size(), static_cast<size_t>(params.max_candidates));
  const float scale_x = static_cast<float>(info.src_w), scale_y = static_cast<float>(info.src_h);
  const int min_size = 3;
  std::vector<Quad> boxes;
  for (size_t i = 0; i < num; ++i) {
    float sside = 0.f;
    Quad points = GetMiniBoxes(contours[i], &sside);
    if (sside < min_size) continue;
    double score = params.score_mode == "fast" ? BoxScoreFast(pred, points) : BoxScoreSlow(pred, contours[i]);
    if (params.box_thresh > score) continue;
    ClipperLib::Paths paths = Unclip(points, params.unclip_ratio);
    if (paths.size() != 1) continue;
    std::vector<cv::Point> expanded;
    for (const ClipperLib::IntPoint& p : paths[0])
      expanded.emplace_back(static_cast<int>(p.X), static_cast<int>(p.Y));
    Quad box = GetMiniBoxes(expanded, &sside);
    if (sside < min_size + 2) continue;
    for (cv::Point2f& p : box) {
      float x = std::nearbyint(p.x / static_cast<float>(width) * scale_x);
      float y = std::nearbyint(p.y / static_cast<float>(height) * scale_y);
      // clip to [0, scale], then astype(int32)
      p.x = static_cast<float>(static_cast<int>(std::min(std::max(x, 0.0f), scale_x)));
      p.y = static_cast<float>(static_cast<int>(std::min(std::max(y, 0.0f), scale_y)));
    }
    boxes.push_back(box);
  }
  return params.nested_thresh > 0 ? DropNested(boxes, params.nested_thresh) : boxes;
}

std::vector<Quad> DropNested(const std::vector<Quad>& boxes, double nested_thresh) {
  const size_t n = boxes.size();
  std::vector<std::vector<cv::Point2f>> quads(n);
  std::vector<double> areas(n);
  std::vector<cv::Rect2f> bounds(n);
  for (size_t i = 0; i < n; ++i) {
    quads[i].assign(boxes[i].begin(), boxes[i].end());
    areas[i] = std::abs(cv::contourArea(quads[i]));
    float x0 = quads[i][0].x, x1 = x0, y0 = quads[i][0].y, y1 = y0;
    for (const cv::Point2f& p : quads[i]) {
      x0 = std::min(x0, p.x); x1 = std::max(x1, p.x); y0 = std::min(y0, p.y); y1 = std::max(y1, p.y);
    }
    bounds[i] = cv::Rect2f(x0, y0, x1 - x0, y1 - y0);
  }
  std::vector<Quad> kept;
  for (size_t i = 0; i < n; ++i) {
    bool nested = false;
    for (size_t j = 0; j < n && !nested; ++j) {
      const cv::Rect2f &a = bounds[i], &b = bounds[j];
      if (j == i || areas[j] <= areas[i] || a.x + a.width < b.x || b.x + b.width < a.x ||
          a.y + a.height < b.y || b.y + b.height < a.y)
        continue;
      std::vector<cv::Point2f> inside;
      nested = cv::intersectConvexConvex(quads[i], quads[j], inside) > nested_thresh * areas[i];
    }
    if (!nested) kept.push_back(boxes[i]);
  }
  return kept;
}

Quad OrderPointsClockwise(const Quad& pts) {
  std::array<int, 4> idx = {0, 1, 2, 3};
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return pts[a].x < pts[b].x; });
  cv::Point2f l0 = pts[idx[0]], l1 = pts[idx[1]], r0 = pts[idx[2]], r1 = pts[idx[3]];
  cv::Point2f tl = l0, bl = l1, tr = r0, br = r1;
  if (l1.y < l0.y) { tl = l1; bl = l0; }
  if (r1.y < r0.y) { tr = r1; br = r0; }
  return Quad{tl, tr, br, bl};
}

static float Norm(const cv::Point2f& a, const cv::Point2f& b) {
  float dx = a.x - b.x, dy = a.y - b.y;
  return std::sqrt(dx * dx + dy * dy);
}

std::vector<Quad> FilterTagDetRes(const std::vector<Quad>& boxes, int img_height, int img_width) {
  std::vector<Quad> kept;
  for (const Quad& raw : boxes) {
    Quad box = OrderPointsClockwise(raw);
    for (cv::Point2f& p : box) {
      p.x = static_cast<float>(static_cast<int>(std::min(std::max(p.x, 0.0f), float(img_width - 1))));
      p.y = static_cast<float>(static_cast<int>(std::min(std::max(p.y, 0.0f), float(img_height - 1))));
    }
    int rect_width = static_cast<int>(Norm(box[0], box[1]));
    int rect_height = static_cast<int>(Norm(box[0], box[3]));
    if (rect_width <= 3 || rect_height <= 3) continue;
    kept.push_back(box);
  }
  return kept;
}

namespace {

// `wanted` rounded and capped by max_side_limit; 0 when the network's input there would be no larger than the
// first pass's (DetTargetSize snaps sides to multiples of 32)
int ZoomedLongSide(int source_long_side, int input_long_side, double wanted, int max_side_limit) {
  // Python's round(): ties to even, as nearbyint in the default rounding mode
  int zoomed = static_cast<int>(std::nearbyint(wanted));
  if (max_side_limit > 0) zoomed = std::min(zoomed, max_side_limit);
  int snapped = 0, unused = 0;
  DetTargetSize(source_long_side, source_long_side, zoomed, "resize_long", &snapped, &unused, 0);
  return snapped > input_long_side ? zoomed : 0;
}

}  // namespace

double MedianAspect(const std::vector<Quad>& boxes) {
  if (boxes.empty()) return 0.0;
  std::vector<double> aspects;
  for (const Quad& box : boxes) {
    int w = 0, h = 0;
    CropSize(box, &w, &h);
    aspects.push_back(double(std::max(w, h)) / std::max(1, std::min(w, h)));
  }
  std::sort(aspects.begin(), aspects.end());
  size_t n = aspects.size();
  return n % 2 ? aspects[n / 2] : (aspects[n / 2 - 1] + aspects[n / 2]) / 2.0;
}

int SmallTextLongSide(const std::vector<Quad>& boxes, int source_long_side, int input_long_side,
                      const SmallText& small, int max_side_limit, bool past_own_size) {
  if (small.below <= 0) return 0;
  // nothing found, nothing to measure: zoomed by the most within the image's own size, and at least empty_zoom
  // times past it
  if (boxes.empty()) {
    if (small.empty_zoom <= 1.0) return 0;
    double wanted = std::max(std::min(input_long_side * small.zoom, double(source_long_side)),
                             input_long_side * small.empty_zoom);
    return ZoomedLongSide(source_long_side, input_long_side, wanted, max_side_limit);
  }
  if (small.zoom <= 1.0) return 0;
  std::vector<int> heights;
  for (const Quad& box : boxes) {
    int w = 0, h = 0;
    CropSize(box, &w, &h);
    heights.push_back(std::min(w, h));
  }
  std::sort(heights.begin(), heights.end());
  size_t n = heights.size();
  // np.median: the middle value, or the mean of the two middle ones
  double median = n % 2 ? heights[n / 2] : (heights[n / 2 - 1] + heights[n / 2]) / 2.0;
  median = median * input_long_side / source_long_side;  // at the network's input
  if (median >= small.below) return 0;
  double zoom = small.height > 0 && median > 0 ? std::min(small.zoom, small.height / median) : small.zoom;
  // past the image's own size only when the caller allows it (a photo or a scan, not rendered print)
  double wanted = input_long_side * zoom;
  if (!past_own_size) wanted = std::min(wanted, double(source_long_side));
  return ZoomedLongSide(source_long_side, input_long_side, wanted, max_side_limit);
}

}  // namespace ppocr
