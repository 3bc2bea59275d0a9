#!/usr/bin/env bash
# A HIS's outpatient day against `yibao serve --demo`, over the national
# interface: 9001 sign-in, 1101, 2201, 2203, 2204, 2206, 2207, 2208, 9002.
# Needs curl and jq. Usage: docs/examples/fsi-walkthrough.sh [base-url]
set -euo pipefail
BASE="${1:-http://127.0.0.1:8080}"
URL="$BASE/fsi/api/rsfComIfsService/callService"
INST=H33020300001                 # 宁波演示第一医院 (demo, 三级甲等)
CERTNO=330203198906234464         # demo person 33020000000000000001 (职工在职, seed 20261122)
SIGN_NO=""
SEQ_FILE=$(mktemp); echo 0 > "$SEQ_FILE"; trap 'rm -f "$SEQ_FILE"' EXIT

# call INFNO INPUT-JSON: wraps the input in the national envelope and posts it.
call() {
  # msgid: institution code + time + a serial, unique per message (30 chars).
  # The serial lives in a file because calls run in $(...) subshells.
  local n msgid
  n=$(( $(cat "$SEQ_FILE") + 1 )); echo "$n" > "$SEQ_FILE"
  msgid="${INST}$(date +%Y%m%d%H%M%S)$(printf '%04d' "$n")"
  jq -n --arg infno "$1" --arg msgid "$msgid" --arg inst "$INST" --arg sign "$SIGN_NO" \
        --arg now "$(date '+%Y-%m-%d %H:%M:%S')" --argjson input "$2" '{
    infno: $infno, msgid: $msgid, mdtrtarea_admvs: "330200", insuplc_admdvs: "330200",
    recer_sys_code: "YBXT", dev_no: "", dev_safe_info: "", cainfo: "", signtype: "", infver: "V1.0",
    opter_type: "1", opter: "001", opter_name: "收费员甲", inf_time: $now,
    fixmedins_code: $inst, fixmedins_name: "宁波演示第一医院", sign_no: $sign, input: $input}' |
  curl -sS -X POST "$URL" -H 'Content-Type: application/json' --data-binary @- |
  jq 'if .infcode == 0 then .output else error("\(.err_msg)") end'
}

echo "== 9001 签到"
SIGN_NO=$(call 9001 '{"signIn": {"opter_no": "001", "mac": "00-16-3E-00-00-01", "ip": "10.0.0.8"}}' | jq -r .signinoutb.sign_no)
echo "sign_no=$SIGN_NO"

echo "== 1101 人员信息获取 (ID card)"
PERSON=$(call 1101 "{\"data\": {\"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERTNO\", \"psn_cert_type\": \"01\"}}")
echo "$PERSON" | jq -c '{psn_no: .baseinfo.psn_no, insutype: .insuinfo[0].insutype, psn_type: .insuinfo[0].psn_type, balc: .insuinfo[0].balc}'
PSN_NO=$(echo "$PERSON" | jq -r .baseinfo.psn_no)

echo "== 2201 门诊挂号"
MDTRT_ID=$(call 2201 "{\"data\": {\"psn_no\": \"$PSN_NO\", \"insutype\": \"310\", \"begntime\": \"$(date '+%Y-%m-%d %H:%M:%S')\",
  \"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERTNO\", \"ipt_otp_no\": \"MZ$(date +%H%M%S)\", \"atddr_no\": \"D01\",
  \"dr_name\": \"医生甲\", \"dept_code\": \"01\", \"dept_name\": \"内科\", \"caty\": \"A03\"}}" | jq -r .data.mdtrt_id)
echo "mdtrt_id=$MDTRT_ID"

echo "== 2203 门诊就诊信息上传"
call 2203 "{\"mdtrtinfo\": {\"mdtrt_id\": \"$MDTRT_ID\", \"psn_no\": \"$PSN_NO\", \"med_type\": \"11\",
  \"begntime\": \"$(date '+%Y-%m-%d %H:%M:%S')\"}, \"diseinfo\": [{\"psn_no\": \"$PSN_NO\", \"diag_type\": \"1\",
  \"maindiag_flag\": \"1\", \"diag_srt_no\": 1, \"diag_code\": \"I10.x00x002\", \"diag_name\": \"高血压\",
  \"diag_dept\": \"内科\", \"dise_dor_no\": \"D01\", \"dise_dor_name\": \"医生甲\",
  \"diag_time\": \"$(date '+%Y-%m-%d %H:%M:%S')\", \"vali_flag\": \"1\"}]}" > /dev/null

echo "== 2204 门诊费用明细上传 (阿莫西林 甲, 诊查费, 头孢 乙)"
line() { # serial code price count amount
  echo "{\"feedetl_sn\": \"$1\", \"mdtrt_id\": \"$MDTRT_ID\", \"psn_no\": \"$PSN_NO\", \"chrg_bchno\": \"B1\",
    \"fee_ocur_time\": \"$(date '+%Y-%m-%d %H:%M:%S')\", \"med_list_codg\": \"$2\", \"medins_list_codg\": \"HIS-$2\",
    \"det_item_fee_sumamt\": \"$5\", \"cnt\": \"$4\", \"pric\": \"$3\", \"bilg_dept_codg\": \"01\", \"bilg_dept_name\": \"内科\",
    \"bilg_dr_codg\": \"D01\", \"bilg_dr_name\": \"医生甲\", \"hosp_appr_flag\": \"0\"}"
}
call 2204 "{\"feedetail\": [$(line 1 YP2024-X-0632-01 12.50 4 50.00), $(line 2 001102000000100 30.00 1 30.00),
  $(line 3 YP2024-X-0006-01 8.00 5 40.00)]}" |
  jq -c '.result[] | {feedetl_sn, chrgitm_lv, selfpay_prop, preselfpay_amt, fulamt_ownpay_amt}'

SETTLE="{\"data\": {\"psn_no\": \"$PSN_NO\", \"mdtrt_cert_type\": \"02\", \"mdtrt_cert_no\": \"$CERTNO\",
  \"med_type\": \"11\", \"medfee_sumamt\": \"120.00\", \"psn_setlway\": \"01\", \"mdtrt_id\": \"$MDTRT_ID\",
  \"chrg_bchno\": \"B1\", \"insutype\": \"310\", \"acct_used_flag\": \"1\"}}"
PICK='.setlinfo | {setl_id, medfee_sumamt, preselfpay_amt, inscp_scp_amt, act_pay_dedc, hifp_pay, fund_pay_sumamt, acct_pay, psn_cash_pay, balc}'

echo "== 2206 门诊预结算 (nothing is settled)"
call 2206 "$SETTLE" | jq -c "$PICK"

echo "== 2207 门诊结算"
SETTLED=$(call 2207 "$SETTLE")
echo "$SETTLED" | jq -c "$PICK"
SETL_ID=$(echo "$SETTLED" | jq -r .setlinfo.setl_id)

echo "== 2208 门诊结算撤销 (negative amounts; account and year-to-date totals restored)"
call 2208 "{\"data\": {\"setl_id\": \"$SETL_ID\", \"mdtrt_id\": \"$MDTRT_ID\", \"psn_no\": \"$PSN_NO\"}}" | jq -c "$PICK"

echo "== 9002 签退"
call 9002 "{\"signOut\": {\"sign_no\": \"$SIGN_NO\", \"opter_no\": \"001\"}}" > /dev/null
echo "done"
