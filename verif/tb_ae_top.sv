// Test wrapper of ae_top: the open-drain I2C bus (SDA = controller AND target,
// SCL from the controller only) around the IP, every ae_top port passed through
// under its own name. Widths are parameters; every build passes the design's
// (verif/params.py).
module tb_ae_top #(
  parameter int unsigned NumTc   = 1,
  parameter int unsigned TcBits  = 1,
  parameter int unsigned SumBits = 1,
  parameter int unsigned Units   = 1,
  parameter int unsigned OutBits = 1
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
  output logic                     sda
);
  logic target_sda_o;

  assign scl = ctrl_scl_o;
  assign sda = ctrl_sda_o & target_sda_o;

  ae_top u_top (
    .clk, .rst_n, .scl_i(scl), .sda_i(sda), .sda_o(target_sda_o), .i2c_addr, .tc_in, .tc_valid,
    .ae_sum, .ae_out, .ae_valid, .tmr_err
  );
endmodule
