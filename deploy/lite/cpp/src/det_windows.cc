#include "det_windows.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <opencv2/imgproc.hpp>

#include "crop.h"

namespace ppocr {

std::vector<std::pair<int, int>> WindowSpans(int length, int window, int overlap) {
  if (length <= window) return {{0, length}};
  overlap = std::min(overlap, window / 2);
  int count = int(std::ceil(double(length - window) / double(window - overlap))) + 1;
  std::vector<std::pair<int, int>> spans;
  for (int i = 0; i < count; ++i) {
    // Python's round(): ties to even, as nearbyint in the default rounding mode
    int start = int(std::nearbyint(double(i) * (length - window) / (count - 1)));
    spans.emplace_back(start, start + window);
  }
  return spans;
}

double ReadDetWindowOverlap(const Config& c) {
  return c.Has("det_window_overlap") ? c.Double("det_window_overlap") : 0.0;
}

double ReadDetWindowBelow(const Config& c) { return c.Has("det_window_below") ? c.Double("det_window_below") : 1.0; }

namespace {

float Coordinate(const cv::Point2f& p, int along) { return along == 1 ? p.y : p.x; }

std::vector<cv::Point2f> Points(const Quad& q) { return std::vector<cv::Point2f>(q.begin(), q.end()); }

double Area(const Quad& q) { return std::abs(cv::contourArea(Points(q))); }

double Intersection(const Quad& a, const Quad& b) {
  std::vector<cv::Point2f> inside;
  return double(cv::intersectConvexConvex(Points(a), Points(b), inside));
}

// det_windows._duplicates: (window, index) of the whole boxes a larger box of the same text in a neighbouring
// window outweighs (the later on a tie), every pair judged before any box goes.
std::set<std::pair<size_t, size_t>> Duplicates(const std::vector<std::vector<Quad>>& whole,
                                               const std::vector<std::pair<int, int>>& spans, int along) {
  std::set<std::pair<size_t, size_t>> dropped;
  std::vector<std::vector<double>> areas(whole.size());
  for (size_t k = 0; k < whole.size(); ++k)
    for (const Quad& box : whole[k]) areas[k].push_back(Area(box));
  for (size_t k = 0; k + 1 < whole.size(); ++k) {
    const double band_start = spans[k + 1].first, band_end = spans[k].second;
    for (size_t i = 0; i < whole[k].size(); ++i) {
      const Quad& a = whole[k][i];
      double high = Coordinate(a[0], along);
      for (const cv::Point2f& p : a) high = std::max(high, double(Coordinate(p, along)));
      if (high <= band_start) continue;
      for (size_t j = 0; j < whole[k + 1].size(); ++j) {
        const Quad& b = whole[k + 1][j];
        double low = Coordinate(b[0], along);
        for (const cv::Point2f& p : b) low = std::min(low, double(Coordinate(p, along)));
        if (low >= band_end) continue;
        const double area_a = areas[k][i], area_b = areas[k + 1][j];
        if (Intersection(a, b) >= kWindowDuplicate * std::min(area_a, area_b))
          dropped.insert(area_a >= area_b ? std::make_pair(k + 1, j) : std::make_pair(k, i));
      }
    }
  }
  return dropped;
}

// The quad of the image between `start` and `end` along the windows' axis (`along`: the point coordinate).
Quad Band(int start, int end, int along, int rows, int cols) {
  float across = float(along == 1 ? cols : rows);
  Quad q = {cv::Point2f(0.f, float(start)), cv::Point2f(across, float(start)), cv::Point2f(across, float(end)),
            cv::Point2f(0.f, float(end))};
  if (along == 0)
    for (cv::Point2f& p : q) std::swap(p.x, p.y);
  return q;
}

// det_windows._spanning: the start edge of the piece that starts first along the windows' axis and the end edge
// of the one that ends last, corners as they are.
Quad Spanning(const std::vector<Quad>& boxes, int along) {
  auto low = [&](const Quad& q) {
    float v = Coordinate(q[0], along);
    for (const cv::Point2f& p : q) v = std::min(v, Coordinate(p, along));
    return v;
  };
  auto high = [&](const Quad& q) {
    float v = Coordinate(q[0], along);
    for (const cv::Point2f& p : q) v = std::max(v, Coordinate(p, along));
    return v;
  };
  const Quad* first = &boxes[0];
  const Quad* last = &boxes[0];
  for (const Quad& q : boxes) {   // the first of equals, as Python's min and max
    if (low(q) < low(*first)) first = &q;
    if (high(q) > high(*last)) last = &q;
  }
  if (along == 0) return {(*first)[0], (*last)[1], (*last)[2], (*first)[3]};  // side by side: left, right edges
  return {(*first)[0], (*first)[1], (*last)[2], (*last)[3]};                  // stacked: top, bottom edges
}

struct Piece {
  size_t window;
  Quad box;
};

std::vector<Quad> JoinedPieces(const std::vector<Piece>& pieces, const std::vector<std::pair<int, int>>& spans,
                               int along, int rows, int cols) {
  std::vector<size_t> group(pieces.size());
  for (size_t i = 0; i < group.size(); ++i) group[i] = i;
  auto root = [&](size_t i) {
    while (group[i] != i) {
      group[i] = group[group[i]];
      i = group[i];
    }
    return i;
  };
  for (size_t i = 0; i < pieces.size(); ++i)
    for (size_t j = 0; j < pieces.size(); ++j) {
      size_t k = pieces[i].window;
      if (pieces[j].window != k + 1) continue;
      Quad band = Band(spans[k + 1].first, spans[k].second, along, rows, cols);
      double inside = std::min(Intersection(pieces[i].box, band), Intersection(pieces[j].box, band));
      if (inside > 0 && Intersection(pieces[i].box, pieces[j].box) >= kWindowDuplicate * inside)
        group[root(j)] = root(i);
    }
  // groups in the order of their first piece (the Python dict's insertion order)
  std::vector<size_t> roots;
  std::map<size_t, std::vector<Quad>> members;
  for (size_t i = 0; i < pieces.size(); ++i) {
    size_t r = root(i);
    if (!members.count(r)) roots.push_back(r);
    members[r].push_back(pieces[i].box);
  }
  std::vector<Quad> joined;
  for (size_t r : roots) joined.push_back(Spanning(members[r], along));
  return joined;
}

}  // namespace

std::vector<Quad> MergeWindowBoxes(const std::vector<std::vector<Quad>>& window_boxes,
                                   const std::vector<std::pair<int, int>>& spans, int axis, int rows, int cols) {
  const int along = 1 - axis;
  std::vector<std::vector<Quad>> whole;
  std::vector<Piece> pieces;
  for (size_t k = 0; k < window_boxes.size(); ++k) {
    const int start = spans[k].first, end = spans[k].second;
    const bool has_earlier = k > 0, has_later = k + 1 < spans.size();
    const double earlier_end = has_earlier ? spans[k - 1].second : 0.0;
    const double later_start = has_later ? spans[k + 1].first : 0.0;
    std::vector<Quad> mine;
    for (const Quad& box : window_boxes[k]) {
      double low = Coordinate(box[0], along), high = low;
      for (const cv::Point2f& p : box) {
        low = std::min(low, double(Coordinate(p, along)));
        high = std::max(high, double(Coordinate(p, along)));
      }
      int crop_w = 0, crop_h = 0;
      CropSize(box, &crop_w, &crop_h);
      const double reach = std::max(kWindowCutTolerance, kWindowCutReach * std::min(crop_w, crop_h));
      const bool cut_before = has_earlier && low <= start + reach;
      const bool cut_after = has_later && high >= end - 1 - reach;
      if ((cut_before && high < earlier_end - 1 - kWindowCutTolerance) ||
          (cut_after && low > later_start + kWindowCutTolerance))
        continue;  // cut, but inside the band: the neighbouring window saw all of it
      if (cut_before || cut_after)
        pieces.push_back({k, box});
      else
        mine.push_back(box);
    }
    whole.push_back(mine);
  }
  const std::set<std::pair<size_t, size_t>> dropped = Duplicates(whole, spans, along);
  std::vector<Quad> boxes;
  for (size_t k = 0; k < whole.size(); ++k)
    for (size_t i = 0; i < whole[k].size(); ++i)
      if (!dropped.count({k, i})) boxes.push_back(whole[k][i]);
  std::vector<Quad> joined = FilterTagDetRes(JoinedPieces(pieces, spans, along, rows, cols), rows, cols);
  boxes.insert(boxes.end(), joined.begin(), joined.end());
  return boxes;
}

}  // namespace ppocr
