#include "lite_predictor.h"

#include <cstring>
#include <stdexcept>

#include "paddle_api.h"  // from the Paddle-Lite inference library: ${PADDLE_LITE_DIR}/cxx/include

namespace ppocr {

using namespace paddle::lite_api;  // NOLINT

static PowerMode ParsePowerMode(const std::string& name) {
  if (name == "LITE_POWER_HIGH") return LITE_POWER_HIGH;
  if (name == "LITE_POWER_LOW") return LITE_POWER_LOW;
  if (name == "LITE_POWER_FULL") return LITE_POWER_FULL;
  if (name == "LITE_POWER_NO_BIND") return LITE_POWER_NO_BIND;
  if (name == "LITE_POWER_RAND_HIGH") return LITE_POWER_RAND_HIGH;
  if (name == "LITE_POWER_RAND_LOW") return LITE_POWER_RAND_LOW;
  throw std::invalid_argument("unknown power mode " + name);
}

LitePredictor::LitePredictor(const std::string& nb_path, int threads, const std::string& power_mode) {
  MobileConfig config;
  config.set_model_from_file(nb_path);
  config.set_threads(threads);
  config.set_power_mode(ParsePowerMode(power_mode));
  predictor_ = CreatePaddlePredictor<MobileConfig>(config);
}

Tensor LitePredictor::Run(const Tensor& input) {
  if (input.shape.size() != 4) throw std::invalid_argument("LitePredictor: input must be NCHW");
  const int64_t n = input.shape[0];
  const size_t item = static_cast<size_t>(input.numel() / (n > 0 ? n : 1));
  Tensor out;
  for (int64_t i = 0; i < n; ++i) {
    std::unique_ptr<paddle::lite_api::Tensor> in = predictor_->GetInput(0);
    in->Resize({1, input.shape[1], input.shape[2], input.shape[3]});
    std::memcpy(in->mutable_data<float>(), input.data.data() + i * item, item * sizeof(float));
    predictor_->Run();
    std::unique_ptr<const paddle::lite_api::Tensor> res = predictor_->GetOutput(0);
    std::vector<int64_t> shape = res->shape();
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    if (i == 0) {
      out.shape = shape;
      out.shape[0] = n;
      out.data.reserve(static_cast<size_t>(count * n));
    }
    const float* data = res->data<float>();
    out.data.insert(out.data.end(), data, data + count);
  }
  return out;
}

}  // namespace ppocr
