// RUN: wafer-opt %s -p wse-verify-support --split-input-file --verify-diagnostics | filecheck %s

// Real numbers of any width pass unchanged.
// CHECK-LABEL: func.func @real
// CHECK: arith.mulf
func.func @real(%x: tensor<4xf16>, %y: tensor<4xf16>) -> tensor<4xf16> {
  %r = arith.mulf %x, %y : tensor<4xf16>
  return %r : tensor<4xf16>
}

// -----

// A complex value anywhere is refused at the op that makes it.
func.func @complex(%re: f32, %im: f32) -> f32 {
  // expected-error @+1 {{'complex.create' computes on complex<f32>: the wse target runs real numbers only}}
  %z = complex.create %re, %im : complex<f32>
  %a = complex.abs %z : complex<f32>
  return %a : f32
}

// -----

// A size known only at run time is refused at the op that makes it.
func.func @dynamic(%x: tensor<8xf32>, %n: index) -> tensor<?xf32> {
  // expected-error @+1 {{'tensor.extract_slice' makes a tensor<?xf32> of a size known only at run time: the wse target places static shapes only}}
  %s = tensor.extract_slice %x[0] [%n] [1] : tensor<8xf32> to tensor<?xf32>
  return %s : tensor<?xf32>
}

// -----

// A body op the simulator has no PE kernel for is refused where it is, not at
// call time; the ops around it (math.atanh, arith.mulf) pass.
#id = affine_map<(d0) -> (d0)>
func.func @body_op(%x: tensor<8xf32>) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = math.atanh %a : f32
    %m = arith.mulf %t, %a : f32
    // expected-error @+1 {{'math.erfc' in the body of 'linalg.generic' has no PE kernel in the wse simulator (the cpu target runs it)}}
    %c = math.erfc %m : f32
    linalg.yield %c : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}
