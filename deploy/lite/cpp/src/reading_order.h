// The order in which a page's boxes are read (paddle_pp/utils/reading_order.py; `reading_order` in ocr_config.txt).
#pragma once
#include <string>
#include <vector>

#include "config.h"
#include "db_postprocess.h"

namespace ppocr {

// PaddleOCR's sorted_boxes: sort by (y, x) of the first point, then one pass swapping same-line neighbours
// (|dy| < 10) out of x order.
std::vector<Quad> SortedBoxes(std::vector<Quad> boxes);
// Indices of the boxes in row order: the page sheared level by its skew, then the boxes grouped into rows by how
// much their vertical extents overlap (along each box's top and bottom edges), rows top to bottom, each left to
// right. reading_order.py's row_order, step for step.
std::vector<size_t> RowOrder(const std::vector<Quad>& boxes, double min_overlap = 0.5);
// Indices of the boxes in column order: lines chained down their columns into blocks, the blocks cut apart where a
// vertical, else a horizontal, strip crosses none (XY-cut), each part read in rows. reading_order.py's column_order.
std::vector<size_t> ColumnOrder(const std::vector<Quad>& boxes);
// The boxes in `reading_order`: "rows", "paddleocr" or "columns"; anything else is std::invalid_argument.
std::vector<Quad> OrderBoxes(const std::vector<Quad>& boxes, const std::string& reading_order);
// The config's reading_order; configs written before the key get "paddleocr", the order they were made with.
std::string ReadReadingOrder(const Config& c);

}  // namespace ppocr
