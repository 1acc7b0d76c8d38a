// RUN: wafer-opt %s -p wse-fold-concat-casts | filecheck %s

// torch.roll as torch-mlir lowers it: two slices, each cast to a dynamic size
// along the rolled dim, concatenated. The concat reads the static slices and
// the casts are gone.
// CHECK-LABEL: func.func @roll
// CHECK-NOT: tensor.cast
// CHECK: tensor.concat dim(1) %{{.*}}, %{{.*}} : (tensor<1x5x8xf32>, tensor<1x3x8xf32>) -> tensor<1x8x8xf32>
func.func @roll(%x: tensor<1x8x8xf32>) -> tensor<1x8x8xf32> {
  %a = tensor.extract_slice %x[0, 3, 0] [1, 5, 8] [1, 1, 1] : tensor<1x8x8xf32> to tensor<1x5x8xf32>
  %ca = tensor.cast %a : tensor<1x5x8xf32> to tensor<1x?x8xf32>
  %b = tensor.extract_slice %x[0, 0, 0] [1, 3, 8] [1, 1, 1] : tensor<1x8x8xf32> to tensor<1x3x8xf32>
  %cb = tensor.cast %b : tensor<1x3x8xf32> to tensor<1x?x8xf32>
  %c = tensor.concat dim(1) %ca, %cb : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x8x8xf32>
  return %c : tensor<1x8x8xf32>
}

// A cast another op also reads stays for it; one that makes a size static is
// no cast of this kind and stays.
// CHECK-LABEL: func.func @kept
// CHECK: %[[CAST:.*]] = tensor.cast %arg0 : tensor<2x4xf32> to tensor<?x4xf32>
// CHECK: %[[STATIC:.*]] = tensor.cast %arg1 : tensor<?x4xf32> to tensor<2x4xf32>
// CHECK: tensor.concat dim(0) %arg0, %[[STATIC]] : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
// CHECK: return %{{.*}}, %[[CAST]]
func.func @kept(%x: tensor<2x4xf32>, %y: tensor<?x4xf32>) -> (tensor<4x4xf32>, tensor<?x4xf32>) {
  %cx = tensor.cast %x : tensor<2x4xf32> to tensor<?x4xf32>
  %cy = tensor.cast %y : tensor<?x4xf32> to tensor<2x4xf32>
  %c = tensor.concat dim(0) %cx, %cy : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  return %c, %cx : tensor<4x4xf32>, tensor<?x4xf32>
}
