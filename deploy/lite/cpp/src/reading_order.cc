#include "reading_order.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ppocr {

std::vector<Quad> SortedBoxes(std::vector<Quad> boxes) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const Quad& a, const Quad& b) {
    if (a[0].y != b[0].y) return a[0].y < b[0].y;
    return a[0].x < b[0].x;
  });
  for (size_t i = 0; i + 1 < boxes.size(); ++i) {
    if (std::fabs(boxes[i + 1][0].y - boxes[i][0].y) < 10 && boxes[i + 1][0].x < boxes[i][0].x)
      std::swap(boxes[i], boxes[i + 1]);
  }
  return boxes;
}

namespace {

constexpr double kEdgeReach = 2.0;  // reading_order.py's EDGE_REACH

// A box's top (p0 -> p1) and bottom (p3 -> p2) edges as lines y = y0 + (x - x0) * slope, followed at most `reach`
// beyond the box's ends [left, right] and level from there; boxes that are not rows of text (both slopes 0 after
// _edge_slopes' rule) have their axis-aligned extent wherever x is.
struct Edges {
  double top_x, top_y, top_slope, bottom_x, bottom_y, bottom_slope, min_y, max_y, left, right, reach = 0.0;
  bool flat;
  double Clamp(double x) const { return std::min(std::max(x, left - reach), right + reach); }
  double Top(double x) const { return flat ? min_y : top_y + (Clamp(x) - top_x) * top_slope; }
  double Bottom(double x) const { return flat ? max_y : bottom_y + (Clamp(x) - bottom_x) * bottom_slope; }
};

// A box in double precision, as reading_order.py computes (the page is sheared in doubles, not in floats).
struct QuadD {
  std::array<double, 4> x, y;
};

double Slope(double ax, double ay, double bx, double by) {
  const double dx = bx - ax, dy = by - ay;
  const double slope = std::fabs(dx) > 1e-6 ? dy / dx : 0.0;
  return std::fabs(slope) <= 1.0 ? slope : 0.0;  // steeper than 45 degrees: not a row of text
}

Edges EdgesOf(const QuadD& q) {
  Edges e;
  e.top_x = q.x[0], e.top_y = q.y[0], e.top_slope = Slope(q.x[0], q.y[0], q.x[1], q.y[1]);
  e.bottom_x = q.x[3], e.bottom_y = q.y[3], e.bottom_slope = Slope(q.x[3], q.y[3], q.x[2], q.y[2]);
  e.flat = std::fabs(e.top_slope) + std::fabs(e.bottom_slope) <= 0.0;
  e.min_y = *std::min_element(q.y.begin(), q.y.end());
  e.max_y = *std::max_element(q.y.begin(), q.y.end());
  e.left = *std::min_element(q.x.begin(), q.x.end());
  e.right = *std::max_element(q.x.begin(), q.x.end());
  return e;
}

// reading_order.py's page_slope: the median of the long boxes' mean edge slopes (numpy's median: the mean of the
// two middle values of an even count), 0 without long boxes.
double PageSlope(const std::vector<QuadD>& quads) {
  std::vector<double> slopes;
  for (const QuadD& q : quads) {
    const Edges e = EdgesOf(q);
    if (e.right - e.left > 2 * (e.max_y - e.min_y)) slopes.push_back((e.top_slope + e.bottom_slope) / 2.0);
  }
  if (slopes.empty()) return 0.0;
  std::sort(slopes.begin(), slopes.end());
  const size_t mid = slopes.size() / 2;
  return slopes.size() % 2 ? slopes[mid] : (slopes[mid - 1] + slopes[mid]) / 2.0;
}

}  // namespace

std::vector<size_t> RowOrder(const std::vector<Quad>& boxes, double min_overlap) {
  const size_t n = boxes.size();
  std::vector<QuadD> quads(n);
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < 4; ++k) quads[i].x[k] = boxes[i][k].x, quads[i].y[k] = boxes[i][k].y;
  const double skew = PageSlope(quads);  // shear the page level: y - skew * x (x, and so left to right, unchanged)
  for (QuadD& q : quads)
    for (int k = 0; k < 4; ++k) q.y[k] -= skew * q.x[k];
  std::vector<Edges> edges(n);
  std::vector<double> mean_y(n), height(n), middle(n);
  for (size_t i = 0; i < n; ++i) {
    const QuadD& q = quads[i];
    edges[i] = EdgesOf(q);
    // the sums in reading_order.py's order, so both get the same doubles
    const double centre_x = (((q.x[0] + q.x[1]) + q.x[2]) + q.x[3]) / 4.0;
    mean_y[i] = (((q.y[0] + q.y[1]) + q.y[2]) + q.y[3]) / 4.0;
    const double top = edges[i].Top(centre_x), bottom = edges[i].Bottom(centre_x);  // reach 0: centre is inside
    height[i] = std::max(bottom - top, 1e-6);
    middle[i] = (top + bottom) / 2.0;
    edges[i].reach = kEdgeReach * height[i];
  }
  // how much boxes i and j overlap where they meet (the middle of the gap between them, or of their common part)
  auto ratio = [&](size_t i, size_t j) {
    const double meet = (std::max(edges[i].left, edges[j].left) + std::min(edges[i].right, edges[j].right)) / 2.0;
    const double overlap = std::min(edges[i].Bottom(meet), edges[j].Bottom(meet)) -
                           std::max(edges[i].Top(meet), edges[j].Top(meet));
    return overlap / std::min(height[i], height[j]);
  };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (middle[a] != middle[b]) return middle[a] < middle[b];
    return edges[a].left < edges[b].left;
  });
  std::vector<std::vector<size_t>> rows;
  std::vector<size_t> row_of(n);
  for (size_t k = 0; k < n; ++k) {
    double best_ratio = 0.0;
    size_t best = 0;
    for (size_t m = 0; m < k; ++m) {  // the earlier box this one overlaps most (the first on a tie, as argmax)
      const double r = ratio(order[k], order[m]);
      if (m == 0 || r > best_ratio) best_ratio = r, best = m;
    }
    if (k > 0 && best_ratio >= min_overlap) {
      row_of[k] = row_of[best];
    } else {
      row_of[k] = rows.size();
      rows.emplace_back();
    }
    rows[row_of[k]].push_back(order[k]);
  }
  std::vector<size_t> out;
  for (std::vector<size_t>& row : rows) {
    std::stable_sort(row.begin(), row.end(), [&](size_t a, size_t b) {
      if (edges[a].left != edges[b].left) return edges[a].left < edges[b].left;
      return mean_y[a] < mean_y[b];
    });
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

std::vector<Quad> OrderBoxes(const std::vector<Quad>& boxes, const std::string& reading_order) {
  if (reading_order == "paddleocr") return SortedBoxes(boxes);
  if (reading_order != "rows")
    throw std::invalid_argument("reading_order must be rows or paddleocr, got " + reading_order);
  std::vector<Quad> out;
  for (size_t i : RowOrder(boxes)) out.push_back(boxes[i]);
  return out;
}

std::string ReadReadingOrder(const Config& c) { return c.Has("reading_order") ? c.Str("reading_order") : "paddleocr"; }

}  // namespace ppocr
