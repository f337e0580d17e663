// Neural-network functions: convolution, normalisation, pooling, resampling, softmax and losses.
// Each is libtorch's own kernel; argument order follows torch.nn.functional.
#include "common.h"

namespace dnas {
namespace {

using T = at::Tensor;

c10::optional<T> Opt(std::optional<T> t) { return t ? c10::optional<T>(*t) : c10::nullopt; }

// conv2d(x, weight, bias | null, stride[2], padding[2], dilation[2], groups)
// A call fast_kernels.cc has a faster kernel for goes there (1x1 convolutions on CPU).
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const T& x = TensorArg(info, 0, "conv2d input");
  const T& w = TensorArg(info, 1, "conv2d weight");
  c10::optional<T> b = Opt(OptTensorArg(info, 2, "conv2d bias"));
  std::vector<int64_t> stride = IntListArg(info, 3, "conv2d stride"), padding = IntListArg(info, 4, "conv2d padding"),
                       dilation = IntListArg(info, 5, "conv2d dilation");
  int64_t groups = IntArg(info, 6, "conv2d groups");
  if (auto y = FastConv2d(x, w, b, stride, padding, dilation, groups)) return Wrap(info.Env(), *y);
  return Wrap(info.Env(), at::conv2d(x, w, b, stride, padding, dilation, groups));
}

// linear(x, weight, bias | null)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::linear(TensorArg(info, 0, "linear input"), TensorArg(info, 1, "linear weight"),
                                     Opt(OptTensorArg(info, 2, "linear bias"))));
}

// batchNorm(x, weight | null, bias | null, runningMean | null, runningVar | null, training, momentum, eps)
// In training mode the running statistics are updated in place, as in PyTorch.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(),
              at::batch_norm(TensorArg(info, 0, "batchNorm input"), Opt(OptTensorArg(info, 1, "batchNorm weight")),
                             Opt(OptTensorArg(info, 2, "batchNorm bias")), Opt(OptTensorArg(info, 3, "batchNorm runningMean")),
                             Opt(OptTensorArg(info, 4, "batchNorm runningVar")), BoolArg(info, 5, "batchNorm training"),
                             DoubleArg(info, 6, "batchNorm momentum"), DoubleArg(info, 7, "batchNorm eps"),
                             /*cudnn_enabled=*/true));
}

// maxPool2d(x, kernel[2], stride[2], padding[2], dilation[2], ceilMode)
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::max_pool2d(TensorArg(info, 0, "maxPool2d input"), IntListArg(info, 1, "maxPool2d kernelSize"),
                                         IntListArg(info, 2, "maxPool2d stride"), IntListArg(info, 3, "maxPool2d padding"),
                                         IntListArg(info, 4, "maxPool2d dilation"), BoolArg(info, 5, "maxPool2d ceilMode")));
}

// avgPool2d(x, kernel[2], stride[2], padding[2], ceilMode, countIncludePad)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::avg_pool2d(TensorArg(info, 0, "avgPool2d input"), IntListArg(info, 1, "avgPool2d kernelSize"),
                                         IntListArg(info, 2, "avgPool2d stride"), IntListArg(info, 3, "avgPool2d padding"),
                                         BoolArg(info, 4, "avgPool2d ceilMode"), BoolArg(info, 5, "avgPool2d countIncludePad")));
}

Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::adaptive_avg_pool2d(TensorArg(info, 0, "adaptiveAvgPool2d input"),
                                                  IntListArg(info, 1, "adaptiveAvgPool2d outputSize")));
}

// interpolate(x, size[2], mode: 'bilinear' | 'nearest', alignCorners)
Napi::Value Interpolate(const Napi::CallbackInfo& info) {
  const T& x = TensorArg(info, 0, "interpolate input");
  std::vector<int64_t> size = IntListArg(info, 1, "interpolate size");
  std::string mode = StringArg(info, 2, "interpolate mode");
  if (mode == "bilinear") return Wrap(info.Env(), at::upsample_bilinear2d(x, size, BoolArg(info, 3, "interpolate alignCorners")));
  if (mode == "nearest") return Wrap(info.Env(), at::upsample_nearest2d(x, size));
  throw Napi::RangeError::New(info.Env(), "interpolate: mode must be 'bilinear' or 'nearest', got '" + mode + "'");
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::softmax(TensorArg(info, 0, "softmax"), IntArg(info, 1, "softmax dim")));
}

Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::log_softmax(TensorArg(info, 0, "logSoftmax"), IntArg(info, 1, "logSoftmax dim")));
}

int64_t ReductionArg(const Napi::CallbackInfo& info, size_t i) {
  std::string r = StringArg(info, i, "reduction");
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw Napi::RangeError::New(info.Env(), "reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

// crossEntropy(logits, target, weight | null, ignoreIndex, reduction, labelSmoothing)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::cross_entropy_loss(TensorArg(info, 0, "crossEntropy input"), TensorArg(info, 1, "crossEntropy target"),
                                                 Opt(OptTensorArg(info, 2, "crossEntropy weight")), ReductionArg(info, 4),
                                                 IntArg(info, 3, "crossEntropy ignoreIndex"),
                                                 DoubleArg(info, 5, "crossEntropy labelSmoothing")));
}

// nllLoss(logProbs, target, weight | null, ignoreIndex, reduction)
Napi::Value NllLoss(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::nll_loss_nd(TensorArg(info, 0, "nllLoss input"), TensorArg(info, 1, "nllLoss target"),
                                          Opt(OptTensorArg(info, 2, "nllLoss weight")), ReductionArg(info, 4),
                                          IntArg(info, 3, "nllLoss ignoreIndex")));
}

Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::mse_loss(TensorArg(info, 0, "mseLoss input"), TensorArg(info, 1, "mseLoss target"),
                                       ReductionArg(info, 2)));
}

Napi::Value Dropout(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::dropout(TensorArg(info, 0, "dropout"), DoubleArg(info, 1, "dropout p"), BoolArg(info, 2, "dropout training")));
}

}  // namespace

void RegisterNN(Napi::Env env, Napi::Object exports) {
  #include "gen/nn.exports.inc"  // the Export calls of native/boundary.def
}

}  // namespace dnas
