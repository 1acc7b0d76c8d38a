// RUN: wafer-opt %s -p wafer-fence-in-place-selects | filecheck %s

// A ReLU applied in place to a row of a tile: the read it selects from is
// fenced, and the fence's result is the select's operand.
// CHECK-LABEL: func.func @relu_in_place
// CHECK: %[[ROW:.*]] = vector.transfer_read %[[TILE:.*]][%[[I:.*]], %[[J:.*]]], %{{.*}} {in_bounds = [true]} : memref<4x28xf32>, vector<28xf32>
// CHECK: %[[POSITIVE:.*]] = arith.cmpf ugt, %[[ROW]], %{{.*}} : vector<28xf32>
// CHECK: %[[FENCED:.*]] = llvm.intr.arithmetic.fence(%[[ROW]]) : (vector<28xf32>) -> vector<28xf32>
// CHECK: %[[RELU:.*]] = arith.select %[[POSITIVE]], %[[FENCED]], %{{.*}} : vector<28xi1>, vector<28xf32>
// CHECK: vector.transfer_write %[[RELU]], %[[TILE]][%[[I]], %[[J]]] {in_bounds = [true]} : vector<28xf32>, memref<4x28xf32>
func.func @relu_in_place(%tile: memref<4x28xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant dense<0.0> : vector<28xf32>
  %pad = ub.poison : f32
  %row = vector.transfer_read %tile[%i, %c0], %pad {in_bounds = [true]} : memref<4x28xf32>, vector<28xf32>
  %positive = arith.cmpf ugt, %row, %zero : vector<28xf32>
  %relu = arith.select %positive, %row, %zero : vector<28xi1>, vector<28xf32>
  vector.transfer_write %relu, %tile[%i, %c0] {in_bounds = [true]} : vector<28xf32>, memref<4x28xf32>
  return
}

// A maximum written back in place lowers to a select on its NaN lanes: fenced
// too, through a 1-D shape for the fence.
// CHECK-LABEL: func.func @maximum_in_place
// CHECK: %[[V:.*]] = vector.load %[[BUF:.*]][%{{.*}}, %{{.*}}] : memref<2x16xf32>, vector<2x8xf32>
// CHECK: %[[FLAT:.*]] = vector.shape_cast %[[V]] : vector<2x8xf32> to vector<16xf32>
// CHECK: %[[FENCED:.*]] = llvm.intr.arithmetic.fence(%[[FLAT]]) : (vector<16xf32>) -> vector<16xf32>
// CHECK: %[[BACK:.*]] = vector.shape_cast %[[FENCED]] : vector<16xf32> to vector<2x8xf32>
// CHECK: %[[MAX:.*]] = arith.maximumf %[[BACK]], %{{.*}} : vector<2x8xf32>
// CHECK: vector.store %[[MAX]], %[[BUF]]
func.func @maximum_in_place(%buffer: memref<2x16xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant dense<0.0> : vector<2x8xf32>
  %v = vector.load %buffer[%c0, %c0] : memref<2x16xf32>, vector<2x8xf32>
  %max = arith.maximumf %v, %zero : vector<2x8xf32>
  vector.store %max, %buffer[%c0, %c0] : memref<2x16xf32>, vector<2x8xf32>
  return
}

// Written elsewhere (another column, another buffer), or a scalar select: no
// masked store to avoid, nothing fenced.
// CHECK-LABEL: func.func @not_in_place
// CHECK-NOT: llvm.intr.arithmetic.fence
// CHECK: return
func.func @not_in_place(%tile: memref<4x28xf32>, %out: memref<4x28xf32>, %i: index, %x: f32, %c: i1) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant dense<0.0> : vector<8xf32>
  %pad = ub.poison : f32
  %row = vector.transfer_read %tile[%i, %c0], %pad {in_bounds = [true]} : memref<4x28xf32>, vector<8xf32>
  %positive = arith.cmpf ugt, %row, %zero : vector<8xf32>
  %relu = arith.select %positive, %row, %zero : vector<8xi1>, vector<8xf32>
  vector.transfer_write %relu, %tile[%i, %c1] {in_bounds = [true]} : vector<8xf32>, memref<4x28xf32>
  vector.transfer_write %relu, %out[%i, %c0] {in_bounds = [true]} : vector<8xf32>, memref<4x28xf32>
  %zero_scalar = arith.constant 0.0 : f32
  %s = arith.select %c, %x, %zero_scalar : f32
  return %s : f32
}
