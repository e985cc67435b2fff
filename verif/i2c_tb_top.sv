// Test wrapper: ae_i2c_target + ae_regfile on an open-drain I2C bus.
//
// SDA is the wired-AND of the controller and the target (0 = pull low, 1 =
// release); SCL is driven by the controller only. The controller sees the clean
// bus; the target sees the bus XOR the glitch inputs, so a test can put short
// pulses on the lines at the target's pads without disturbing the controller.
// Widths are parameters; every build passes the design's values (verif/params.py).

module i2c_tb_top #(
  parameter int unsigned ImageBits    = 1,
  parameter int unsigned ModeBits     = 1,
  parameter int unsigned NFlags       = 1,
  parameter int unsigned GlitchFilter = 1
) (
  input  logic                 clk,
  input  logic                 rst_n,

  // controller side (cocotbext-i2c I2cMaster)
  input  logic                 ctrl_scl_o,
  input  logic                 ctrl_sda_o,
  output logic                 scl,
  output logic                 sda,

  // disturbances at the target's pads
  input  logic                 scl_glitch,
  input  logic                 sda_glitch,

  input  logic [6:0]           dev_addr,

  // observation
  output logic                 target_sda_o,
  output logic [15:0]          bus_addr,
  output logic                 bus_we,
  output logic [7:0]           bus_wdata,
  output logic                 bus_re,
  output logic [ImageBits-1:0] weights,
  output logic [ModeBits-1:0]  elinks,
  output logic                 enable,

  // status inputs of the register file
  input  logic [NFlags-1:0]    tmr_flags,
  input  logic                 upset
);

  logic [7:0] bus_rdata;
  logic       bus_hit;

  assign scl = ctrl_scl_o;
  assign sda = ctrl_sda_o & target_sda_o;

  ae_i2c_target #(
    .GlitchFilter(GlitchFilter)
  ) u_target (
    .clk_i      (clk),
    .rst_ni     (rst_n),
    .scl_i      (scl ^ scl_glitch),
    .sda_i      (sda ^ sda_glitch),
    .sda_o      (target_sda_o),
    .dev_addr_i (dev_addr),
    .bus_addr_o (bus_addr),
    .bus_we_o   (bus_we),
    .bus_wdata_o(bus_wdata),
    .bus_re_o   (bus_re),
    .bus_rdata_i(bus_rdata),
    .bus_hit_i  (bus_hit)
  );

  ae_regfile u_regfile (
    .clk_i      (clk),
    .rst_ni     (rst_n),
    .bus_addr_i (bus_addr),
    .bus_we_i   (bus_we),
    .bus_wdata_i(bus_wdata),
    .bus_re_i   (bus_re),
    .bus_rdata_o(bus_rdata),
    .bus_hit_o  (bus_hit),
    .weights_o  (weights),
    .elinks_o   (elinks),
    .enable_o   (enable),
    .tmr_flags_i(tmr_flags),
    .upset_i    (upset)
  );

endmodule
