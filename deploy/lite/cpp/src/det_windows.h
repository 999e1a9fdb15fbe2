// Long images detected in overlapping windows: paddle_pp/postprocess/det_windows.py, the same numbers with the
// same OpenCV calls (det.yml's window_overlap). The windows' geometry is preprocess.h's DetWindowLength.
#pragma once
#include <utility>
#include <vector>

#include "config.h"
#include "db_postprocess.h"

namespace ppocr {

// det_windows.window_spans: [start, end) spans `window` long covering 0..length, each overlapping the next by at
// least `overlap` (at most half a window), spread evenly; one span when the image fits one window.
std::vector<std::pair<int, int>> WindowSpans(int length, int window, int overlap);
// det_windows.merge_window_boxes: the boxes of an image (rows x cols) from those of its windows (already in the
// image's pixels), cut at `spans` along `axis` (0: rows, windows stacked top to bottom; 1: side by side).
std::vector<Quad> MergeWindowBoxes(const std::vector<std::vector<Quad>>& window_boxes,
                                   const std::vector<std::pair<int, int>>& spans, int axis, int rows, int cols);
// det_window_overlap of an ocr_config.txt; configs written before the key shrink long images to the cap (0).
double ReadDetWindowOverlap(const Config& c);
// det_window_below of an ocr_config.txt; configs written before the key: wherever the cap shrinks the image (1).
double ReadDetWindowBelow(const Config& c);

// det_windows.py's constants (tests/test_lite_cpp.py checks they are Python's)
constexpr double kWindowDuplicate = 0.5;
constexpr double kWindowCutReach = 1.0;
constexpr double kWindowCutTolerance = 2.0;

}  // namespace ppocr
