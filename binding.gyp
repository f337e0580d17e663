# Builds native/dnas.node against libtorch. scripts/setup.sh finds libtorch and passes
# its include/lib directories and C++ ABI flag as gyp variables (see docs/install.md).
{
  "variables": {
    "libtorch_include%": "/usr/include",
    "libtorch_lib%": "/usr/lib/x86_64-linux-gnu",
    "cxx11_abi%": "1",
    "gloo_include%": "",
    "with_cuda%": "0",
  },
  "targets": [
    {
      "target_name": "dnas",
      "sources": [
        "native/registry.cc",
        "native/creation.cc",
        "native/math.cc",
        "native/nn.cc",
        "native/autograd_optim.cc",
        "native/serialize.cc",
        "native/distributed.cc",
        "native/fast_kernels.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(libtorch_include)",
        "<(libtorch_include)/torch/csrc/api/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "_GLIBCXX_USE_CXX11_ABI=<(cxx11_abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<(libtorch_lib)",
        "-Wl,-rpath,<(libtorch_lib)",
        "-ltorch", "-ltorch_cpu", "-lc10", "-ldl"
      ],
      "conditions": [
        # A CUDA libtorch: its CUDA kernels live in libtorch_cuda, which registers them when loaded
        # (nothing of it is referenced by name, hence --no-as-needed).
        ["with_cuda=='1'", {
          "libraries": ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"]
        }],
        # Collectives (native/distributed.cc) need gloo's headers; setup passes their folder.
        ["gloo_include!=''", {
          "defines": ["DNAS_WITH_GLOO", "USE_C10D_GLOO"],
          "include_dirs": ["<(gloo_include)"]
        }]
      ]
    }
  ]
}
