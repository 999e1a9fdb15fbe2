#include "reading_order.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

// numpy's median: the mean of the two middle values of an even count.
double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

// reading_order.py's page_slope: the median of the long boxes' mean edge slopes (numpy's median: the mean of the
// two middle values of an even count), 0 without long boxes.
double PageSlope(const std::vector<QuadD>& quads) {
  std::vector<double> slopes;
  for (const QuadD& q : quads) {
    const Edges e = EdgesOf(q);
    if (e.right - e.left > 2 * (e.max_y - e.min_y)) slopes.push_back((e.top_slope + e.bottom_slope) / 2.0);
  }
  return slopes.empty() ? 0.0 : Median(slopes);
}

std::vector<QuadD> ToDouble(const std::vector<Quad>& boxes) {
  std::vector<QuadD> quads(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i)
    for (int k = 0; k < 4; ++k) quads[i].x[k] = boxes[i][k].x, quads[i].y[k] = boxes[i][k].y;
  return quads;
}

// reading_order.py's rows with a given skew (row_order(..., slope=skew)): indices of `quads` in row order.
std::vector<size_t> RowOrderWithSkew(std::vector<QuadD> quads, double skew, double min_overlap) {
  const size_t n = quads.size();
  for (QuadD& q : quads)  // shear the page level: y - skew * x (x, and so left to right, unchanged)
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

constexpr double kLineGap = 2.0;       // reading_order.py's LINE_GAP
constexpr double kLayer = 0.5;         // reading_order.py's LAYER
constexpr double kColumnAspect = 8.0;  // reading_order.py's COLUMN_ASPECT

// A box's axis-aligned extent on the sheared page.
struct Extent {
  double left, top, right, bottom;
};

// reading_order.py's _column_blocks: lines chained to the next line of their column, each block top to bottom,
// blocks in the order of their first box.
std::vector<std::vector<size_t>> ColumnBlocks(const std::vector<Extent>& e) {
  const size_t n = e.size();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> height(n), middle(n);
  for (size_t i = 0; i < n; ++i) {
    height[i] = std::max(e[i].bottom - e[i].top, 1e-6);
    middle[i] = (e[i].top + e[i].bottom) / 2;
  }
  // the gap from box i down to box j, inf when j is not below i
  auto gap = [&](size_t i, size_t j) {
    const double overlap_x = std::min(e[i].right, e[j].right) - std::max(e[i].left, e[j].left);
    const double smaller = std::min(height[i], height[j]);
    const double g = e[j].top - e[i].bottom;
    return overlap_x > 0 && middle[j] > middle[i] && g > -smaller / 2 ? g : inf;
  };
  std::vector<double> nearest_below(n, inf), nearest_above(n, inf);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const double g = gap(i, j);
      nearest_below[i] = std::min(nearest_below[i], g);
      nearest_above[j] = std::min(nearest_above[j], g);
    }
  const size_t none = n;
  std::vector<size_t> below_count(n, 0), above_count(n, 0), below_of(n, none), above_of(n, none);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const double g = gap(i, j);
      if (g == inf) continue;
      if (g <= nearest_below[i] + kLayer * height[i]) ++below_count[i];
      if (g <= nearest_above[j] + kLayer * height[j]) ++above_count[j];
      if (g == nearest_below[i] && below_of[i] == none) below_of[i] = j;
      if (g == nearest_above[j] && above_of[j] == none) above_of[j] = i;
    }
  std::vector<size_t> chained_to(n, none);
  std::vector<bool> has_above(n, false);
  for (size_t i = 0; i < n; ++i) {
    const size_t j = below_of[i];
    if (below_count[i] == 1 && above_count[j] == 1 && above_of[j] == i &&
        nearest_below[i] <= kLineGap * std::min(height[i], height[j])) {
      chained_to[i] = j;
      has_above[j] = true;
    }
  }
  std::vector<std::vector<size_t>> blocks;
  for (size_t first = 0; first < n; ++first) {
    if (has_above[first]) continue;
    blocks.emplace_back();
    for (size_t k = first; k != none; k = chained_to[k]) blocks.back().push_back(k);
  }
  return blocks;
}

// reading_order.py's _split: `ids` cut where a gap falls between their [lo, hi] intervals, in order of lo.
std::vector<std::vector<size_t>> Split(const std::vector<double>& lo, const std::vector<double>& hi,
                                       std::vector<size_t> ids) {
  std::stable_sort(ids.begin(), ids.end(), [&](size_t a, size_t b) {
    if (lo[a] != lo[b]) return lo[a] < lo[b];
    return a < b;
  });
  std::vector<std::vector<size_t>> parts;
  double reach = -std::numeric_limits<double>::infinity();
  for (size_t k : ids) {
    if (lo[k] > reach) parts.emplace_back();
    parts.back().push_back(k);
    reach = std::max(reach, hi[k]);
  }
  return parts;
}

// The blocks and boxes of one page, and reading_order.py's _xy_cut over them: the blocks in reading order, as parts
// that cannot be cut further; columns only where each holds running text (column_order's running_text).
struct ColumnCut {
  std::vector<std::vector<size_t>> blocks;
  std::vector<double> left, top, right, bottom;  // of each block
  std::vector<double> aspect;                    // of each box: width over height

  bool RunningText(const std::vector<size_t>& part) const {
    std::vector<double> values;
    for (size_t b : part)
      for (size_t i : blocks[b]) values.push_back(aspect[i]);
    return Median(values) >= kColumnAspect;
  }

  // depth first with a stack of its own, as _xy_cut: no arrangement of boxes can exhaust the call stack
  void Cut(const std::vector<size_t>& ids, std::vector<std::vector<size_t>>* out) const {
    std::vector<std::vector<size_t>> todo{ids};
    while (!todo.empty()) {
      const std::vector<size_t> part = std::move(todo.back());
      todo.pop_back();
      std::vector<std::vector<size_t>> pieces = Split(left, right, part);
      bool all_text = pieces.size() > 1;
      for (const std::vector<size_t>& piece : pieces) all_text = all_text && RunningText(piece);
      if (!all_text) pieces = Split(top, bottom, part);
      if (pieces.size() > 1) {
        todo.insert(todo.end(), pieces.rbegin(), pieces.rend());  // the first piece is taken next
      } else {
        out->push_back(part);
      }
    }
  }
};

}  // namespace

std::vector<size_t> RowOrder(const std::vector<Quad>& boxes, double min_overlap) {
  std::vector<QuadD> quads = ToDouble(boxes);
  const double skew = PageSlope(quads);
  return RowOrderWithSkew(std::move(quads), skew, min_overlap);
}

std::vector<size_t> ColumnOrder(const std::vector<Quad>& boxes) {
  const std::vector<QuadD> quads = ToDouble(boxes);
  if (quads.empty()) return {};
  const double skew = PageSlope(quads);
  std::vector<Extent> extent(quads.size());
  for (size_t i = 0; i < quads.size(); ++i) {
    std::array<double, 4> y;
    for (int k = 0; k < 4; ++k) y[k] = quads[i].y[k] - skew * quads[i].x[k];
    extent[i] = {*std::min_element(quads[i].x.begin(), quads[i].x.end()), *std::min_element(y.begin(), y.end()),
                 *std::max_element(quads[i].x.begin(), quads[i].x.end()), *std::max_element(y.begin(), y.end())};
  }
  ColumnCut cut;
  cut.blocks = ColumnBlocks(extent);
  for (const std::vector<size_t>& block : cut.blocks) {
    Extent b = extent[block[0]];
    for (size_t i : block) {
      b.left = std::min(b.left, extent[i].left), b.top = std::min(b.top, extent[i].top);
      b.right = std::max(b.right, extent[i].right), b.bottom = std::max(b.bottom, extent[i].bottom);
    }
    cut.left.push_back(b.left), cut.top.push_back(b.top), cut.right.push_back(b.right);
    cut.bottom.push_back(b.bottom);
  }
  for (const Extent& e : extent) cut.aspect.push_back((e.right - e.left) / std::max(e.bottom - e.top, 1e-6));
  std::vector<size_t> all(cut.blocks.size());
  std::iota(all.begin(), all.end(), size_t(0));
  std::vector<std::vector<size_t>> parts;
  cut.Cut(all, &parts);
  std::vector<size_t> out;
  for (const std::vector<size_t>& part : parts) {
    std::vector<size_t> members;
    for (size_t b : part) members.insert(members.end(), cut.blocks[b].begin(), cut.blocks[b].end());
    std::sort(members.begin(), members.end());
    std::vector<QuadD> subset;
    for (size_t i : members) subset.push_back(quads[i]);
    for (size_t k : RowOrderWithSkew(subset, skew, 0.5)) out.push_back(members[k]);
  }
  return out;
}

std::vector<Quad> OrderBoxes(const std::vector<Quad>& boxes, const std::string& reading_order) {
  if (reading_order == "paddleocr") return SortedBoxes(boxes);
  if (reading_order != "rows" && reading_order != "columns")
    throw std::invalid_argument("reading_order must be rows, paddleocr or columns, got " + reading_order);
  std::vector<Quad> out;
  for (size_t i : reading_order == "rows" ? RowOrder(boxes) : ColumnOrder(boxes)) out.push_back(boxes[i]);
  return out;
}

std::string ReadReadingOrder(const Config& c) { return c.Has("reading_order") ? c.Str("reading_order") : "paddleocr"; }

}  // namespace ppocr
