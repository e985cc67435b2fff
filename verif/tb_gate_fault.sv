// Test wrapper of a fault-injection build of a mapped ae_top (asicgen/gate_faults.py): the
// wrapper of verif/tb_ae_top.sv with the build's extra input asicgen_fault, one bit per
// fault point, passed through.
module tb_gate_fault #(
  parameter int unsigned NumTc   = 1,
  parameter int unsigned TcBits  = 1,
  parameter int unsigned SumBits = 1,
  parameter int unsigned Units   = 1,
  parameter int unsigned OutBits = 1,
  parameter int unsigned FaultBits = 1
) (
  input  logic                     clk,
  input  logic                     rst_n,
  input  logic [6:0]               i2c_addr,
  input  logic [NumTc*TcBits-1:0]  tc_in,
  input  logic                     tc_valid,
  output logic [SumBits-1:0]       ae_sum,
  output logic [Units*OutBits-1:0] ae_out,
  output logic                     ae_valid,
  output logic                     tmr_err,
  // I2C controller (cocotbext-i2c) and the resolved bus
  input  logic                     ctrl_scl_o,
  input  logic                     ctrl_sda_o,
  output logic                     scl,
  output logic                     sda,
  input  logic [FaultBits-1:0]     asicgen_fault
);
  logic target_sda_o;

  assign scl = ctrl_scl_o;
  assign sda = ctrl_sda_o & target_sda_o;

  ae_top u_top (
    .clk, .rst_n, .scl_i(scl), .sda_i(sda), .sda_o(target_sda_o), .i2c_addr, .tc_in, .tc_valid,
    .ae_sum, .ae_out, .ae_valid, .tmr_err, .asicgen_fault
  );
endmodule
