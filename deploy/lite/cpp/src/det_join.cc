#include "det_join.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <opencv2/imgproc.hpp>

#include "crop.h"

namespace ppocr {

namespace {

struct Geometry {
  double cx, cy;  // centre
  double ux, uy;  // unit vector along the line
  double length, height;
};

// det_join.box_geometry, in double precision from the float corners
Geometry GeometryOf(const Quad& box) {
  double p[4][2];
  for (int i = 0; i < 4; ++i) {
    p[i][0] = box[i].x;
    p[i][1] = box[i].y;
  }
  Geometry g;
  const double ax = ((p[1][0] - p[0][0]) + (p[2][0] - p[3][0])) / 2.0;
  const double ay = ((p[1][1] - p[0][1]) + (p[2][1] - p[3][1])) / 2.0;
  g.length = std::hypot(ax, ay);
  g.ux = g.length > 0.0 ? ax / g.length : 1.0;
  g.uy = g.length > 0.0 ? ay / g.length : 0.0;
  g.height = (std::hypot(p[3][0] - p[0][0], p[3][1] - p[0][1]) + std::hypot(p[2][0] - p[1][0], p[2][1] - p[1][1])) /
             2.0;
  g.cx = (p[0][0] + p[1][0] + p[2][0] + p[3][0]) / 4.0;
  g.cy = (p[0][1] + p[1][1] + p[2][1] + p[3][1]) / 4.0;
  return g;
}

// det_join.neighbours_of for one pair: b measured along a's line
bool Neighbours(const Geometry& ga, const Geometry& gb) {
  const double low = std::min(ga.height, gb.height), high = std::max(ga.height, gb.height);
  const double same_way = std::cos(kJoinMaxTurn * (M_PI / 180.0));
  const double dx = gb.cx - ga.cx, dy = gb.cy - ga.cy;
  const double across = std::abs(dx * -ga.uy + dy * ga.ux);
  const double gap = std::abs(dx * ga.ux + dy * ga.uy) - (ga.length + gb.length) / 2.0;
  return low > 0.0 && high <= kJoinHeightRatio * low && std::abs(ga.ux * gb.ux + ga.uy * gb.uy) >= same_way &&
         across <= kJoinAcross * low && gap <= kJoinGap * low;
}

double Median(std::vector<double> values) {  // numpy's: the mean of the middle two of an even count
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

}  // namespace

LargeText ReadLargeText(const Config& c) {
  LargeText large;
  if (c.Has("det_large_text_above")) large.above = c.Double("det_large_text_above");
  if (large.above > 0.0) large.height = c.Double("det_large_text_height");  // needed when joining
  return large;
}

std::vector<double> InputHeights(const std::vector<Quad>& boxes, double scale) {
  std::vector<double> heights;
  for (const Quad& box : boxes) {
    int w = 0, h = 0;
    CropSize(box, &w, &h);
    heights.push_back(std::min(w, h) * scale);
  }
  return heights;
}

std::vector<int> SplitLineBoxes(const std::vector<Quad>& boxes, const std::vector<double>& heights, double above) {
  std::vector<int> large;
  std::vector<Geometry> geometry;
  for (size_t i = 0; i < boxes.size(); ++i) {
    geometry.push_back(GeometryOf(boxes[i]));
    if (heights[i] >= above) large.push_back(int(i));
  }
  std::set<int> found;
  for (size_t k = 0; k < large.size(); ++k)
    for (size_t m = k + 1; m < large.size(); ++m)
      if (Neighbours(geometry[large[k]], geometry[large[m]])) {
        found.insert(large[k]);
        found.insert(large[m]);
      }
  return std::vector<int>(found.begin(), found.end());
}

int FarLongSide(const std::vector<double>& heights, const std::vector<int>& pieces, double height,
                int input_long_side) {
  std::vector<double> of_pieces;
  for (int i : pieces) of_pieces.push_back(heights[i]);
  const double median = Median(of_pieces);
  if (median <= height) return 0;
  // Python's round(): ties to even, as nearbyint in the default rounding mode
  return std::max(kJoinMinFarSide, static_cast<int>(std::nearbyint(input_long_side * height / median)));
}

std::vector<Quad> JoinSplitLines(const std::vector<Quad>& boxes, const std::vector<Quad>& far,
                                 const std::vector<double>& heights, double above) {
  std::vector<Geometry> geometry;
  for (const Quad& box : boxes) geometry.push_back(GeometryOf(box));
  std::vector<bool> joined(boxes.size(), false);
  std::vector<Quad> joins;
  for (const Quad& far_box : far) {
    const Geometry g = GeometryOf(far_box);
    const std::vector<cv::Point2f> contour(far_box.begin(), far_box.end());
    std::vector<int> held;
    for (size_t i = 0; i < boxes.size(); ++i)
      if (!joined[i] &&
          cv::pointPolygonTest(contour, cv::Point2f(float(geometry[i].cx), float(geometry[i].cy)), false) >= 0)
        held.push_back(int(i));
    if (held.size() < 2) continue;
    std::stable_sort(held.begin(), held.end(), [&](int a, int b) {
      return geometry[a].cx * g.ux + geometry[a].cy * g.uy < geometry[b].cx * g.ux + geometry[b].cy * g.uy;
    });
    bool large = false, chained = true;
    double tallest = 0.0;
    for (size_t k = 0; k < held.size(); ++k) {
      large = large || heights[held[k]] >= above;
      tallest = std::max(tallest, geometry[held[k]].height);
      if (k > 0 && !Neighbours(geometry[held[k - 1]], geometry[held[k]])) chained = false;
    }
    if (!large || !chained || g.height > kJoinFarTaller * tallest) continue;
    for (int i : held) joined[i] = true;
    joins.push_back(far_box);
  }
  if (joins.empty()) return boxes;
  std::vector<Quad> out;
  for (size_t i = 0; i < boxes.size(); ++i)
    if (!joined[i]) out.push_back(boxes[i]);
  out.insert(out.end(), joins.begin(), joins.end());
  return out;
}

}  // namespace ppocr
