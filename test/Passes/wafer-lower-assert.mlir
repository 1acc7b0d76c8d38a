// The last chunk fails, so the exit status is non-zero.
// RUN: not wafer-opt %s --split-input-file -p wafer-lower-assert 2>/dev/null | filecheck %s
// RUN: wafer-opt %s --split-input-file --verify-diagnostics -p wafer-lower-assert

// A failed assert reports its located message to the runtime, then returns
// poison; the runtime raises and never reads it.
// CHECK: llvm.mlir.global internal constant @[[MSG:wafer_assert_message_0]]("{{.*}}wafer-lower-assert.mlir:{{[0-9]+}}:3: error: size \22mismatch\22\00")
// CHECK-LABEL: func.func @checked
// CHECK-SAME: (%[[A:.*]]: memref<?xf32>, %[[N:.*]]: index)
// CHECK: %[[OK:.*]] = arith.cmpi eq, %{{.*}}, %[[N]] : index
// CHECK-NEXT: cf.cond_br %[[OK]], ^[[REST:.*]], ^[[REPORT:.*]]
// CHECK-NEXT: ^[[REPORT]]:
// CHECK-NEXT: %[[P:.*]] = llvm.mlir.addressof @[[MSG]] : !llvm.ptr
// CHECK-NEXT: call @wafer_assert_failed(%[[P]]) : (!llvm.ptr) -> ()
// CHECK-NEXT: cf.br ^[[EXIT:.*]]
// CHECK-NEXT: ^[[REST]]:
// CHECK-NEXT: %[[X:.*]] = memref.load %[[A]]
// CHECK-NEXT: return %[[A]], %[[X]] : memref<?xf32>, f32
// CHECK-NEXT: ^[[EXIT]]:
// CHECK-NEXT: %[[PM:.*]] = ub.poison : memref<?xf32>
// CHECK-NEXT: %[[PF:.*]] = ub.poison : f32
// CHECK-NEXT: return %[[PM]], %[[PF]] : memref<?xf32>, f32
func.func @checked(%a: memref<?xf32>, %n: index) -> (memref<?xf32>, f32) {
  %c0 = arith.constant 0 : index
  %d = memref.dim %a, %c0 : memref<?xf32>
  %ok = arith.cmpi eq, %d, %n : index
  cf.assert %ok, "size \"mismatch\""
  %x = memref.load %a[%c0] : memref<?xf32>
  return %a, %x : memref<?xf32>, f32
}

// A caller of a function that can fail asks the runtime after the call, and
// returns before it uses the poison.
// CHECK-LABEL: func.func @caller
// CHECK: %[[R:.*]]:2 = call @checked(
// CHECK-NEXT: %[[PENDING:.*]] = call @wafer_assert_pending() : () -> i1
// CHECK-NEXT: cf.cond_br %[[PENDING]], ^[[EXIT:.*]], ^[[REST:.*]]
// CHECK-NEXT: ^[[REST]]:
// CHECK-NEXT: return %[[R]]#1 : f32
// CHECK-NEXT: ^[[EXIT]]:
// CHECK-NEXT: %[[P:.*]] = ub.poison : f32
// CHECK-NEXT: return %[[P]] : f32
func.func @caller(%a: memref<?xf32>, %n: index) -> f32 {
  %r:2 = call @checked(%a, %n) : (memref<?xf32>, index) -> (memref<?xf32>, f32)
  return %r#1 : f32
}

// Functions that cannot fail are left alone.
// CHECK-LABEL: func.func @unchecked
// CHECK-NEXT: return
func.func @unchecked(%a: f32) -> f32 {
  return %a : f32
}

// The runtime's two functions, called through their C interface.
// CHECK: func.func private @wafer_assert_failed(!llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK: func.func private @wafer_assert_pending() -> i1 attributes {llvm.emit_c_interface}

// -----

// A module without asserts gets no runtime declarations.
// CHECK-LABEL: func.func @no_asserts
// CHECK-NOT: wafer_assert
func.func @no_asserts() {
  return
}

// -----

// Still in a region: the assert cannot branch to the function's exit.
func.func @nested(%c: i1) {
  scf.if %c {
    // expected-error@+1 {{cf.assert inside 'scf.if' cannot return early: lower it to cf first}}
    cf.assert %c, "nested"
  }
  return
}

// -----

// Likewise a call to a function that can fail, from inside a region.
func.func private @fails(%c: i1) {
  cf.assert %c, "fails"
  return
}
func.func @nested_call(%c: i1) {
  scf.if %c {
    // expected-error@+1 {{func.call inside 'scf.if' cannot return early: lower it to cf first}}
    func.call @fails(%c) : (i1) -> ()
  }
  return
}
