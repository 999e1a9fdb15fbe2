// PP-OCR on Paddle-Lite: det + cls + rec on images, results in paddle-pp's text format.
//
//   ocr_db_crnn CONFIG IMAGE [IMAGE ...] [--output results.txt]
//
// CONFIG is the key-value file that deploy/lite/export_lite.py writes next to det.nb, cls.nb, rec.nb (generated
// from configs/*.yml); model and dictionary paths in it are relative to its directory. Each image gives one line
// `name<TAB>[{"transcription": ..., "points": [[x, y], ...], "score": ...}]`.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "config.h"
#include "lite_predictor.h"
#include "ocr_system.h"

static std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return base_dir + "/" + path;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG IMAGE [IMAGE ...] [--output results.txt]\n", argv[0]);
    return 2;
  }
  std::string config_path = argv[1];
  std::string output;
  std::vector<std::string> images;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--output" && i + 1 < argc) output = argv[++i];
    else images.push_back(arg);
  }
  try {
    ppocr::Config config = ppocr::Config::Load(config_path);
    size_t slash = config_path.find_last_of('/');
    std::string base = slash == std::string::npos ? "." : config_path.substr(0, slash);
    int threads = config.Int("cpu_threads");
    std::string power = config.Str("lite_power_mode");
    ppocr::LitePredictor det(Resolve(base, config.Str("det_model_path")), threads, power);
    ppocr::LitePredictor rec(Resolve(base, config.Str("rec_model_path")), threads, power);
    std::unique_ptr<ppocr::LitePredictor> cls;
    // the direction classifier turns lines (use_angle_cls) and votes on the page (use_doc_orientation_classify)
    if (config.Bool("use_angle_cls") ||
        (config.Has("use_doc_orientation_classify") && config.Bool("use_doc_orientation_classify")))
      cls.reset(new ppocr::LitePredictor(Resolve(base, config.Str("cls_model_path")), threads, power));
    ppocr::OcrSystem system(config, &det, cls.get(), &rec, Resolve(base, config.Str("rec_char_dict_path")));

    std::ofstream out_file;
    if (!output.empty()) out_file.open(output);
    std::ostream& out = output.empty() ? std::cout : out_file;
    int failures = 0;
    for (const std::string& path : images) {
      cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
      if (img.empty()) {
        std::fprintf(stderr, "failed: %s: cannot read the image\n", path.c_str());
        ++failures;
        continue;
      }
      auto start = std::chrono::steady_clock::now();
      std::vector<ppocr::OcrResult> results = system.Run(img);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
      out << name << "\t" << ppocr::ResultsToJson(results) << "\n";
      std::fprintf(stderr, "%s: %zu lines, %.1f ms\n", name.c_str(), results.size(), ms);
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
