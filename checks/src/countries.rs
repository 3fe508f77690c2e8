//! ISO 3166-1 alpha-3 codes (as printed in machine-readable zones) to alpha-2 codes (as
//! templates and the rest of Verity name countries).

/// Every assigned alpha-3 code followed by its alpha-2 code, e.g. `DEUDE`, from Debian's
/// iso-codes (ISO 3166-1).
const ALPHA3_ALPHA2: &str = "ABWAW AFGAF AGOAO AIAAI ALAAX ALBAL ANDAD AREAE ARGAR ARMAM ASMAS ATAAQ ATFTF ATGAG AUSAU AUTAT \
AZEAZ BDIBI BELBE BENBJ BESBQ BFABF BGDBD BGRBG BHRBH BHSBS BIHBA BLMBL BLRBY BLZBZ BMUBM BOLBO \
BRABR BRBBB BRNBN BTNBT BVTBV BWABW CAFCF CANCA CCKCC CHECH CHLCL CHNCN CIVCI CMRCM CODCD COGCG \
COKCK COLCO COMKM CPVCV CRICR CUBCU CUWCW CXRCX CYMKY CYPCY CZECZ DEUDE DJIDJ DMADM DNKDK DOMDO \
DZADZ ECUEC EGYEG ERIER ESHEH ESPES ESTEE ETHET FINFI FJIFJ FLKFK FRAFR FROFO FSMFM GABGA GBRGB \
GEOGE GGYGG GHAGH GIBGI GINGN GLPGP GMBGM GNBGW GNQGQ GRCGR GRDGD GRLGL GTMGT GUFGF GUMGU GUYGY \
HKGHK HMDHM HNDHN HRVHR HTIHT HUNHU IDNID IMNIM INDIN IOTIO IRLIE IRNIR IRQIQ ISLIS ISRIL ITAIT \
JAMJM JEYJE JORJO JPNJP KAZKZ KENKE KGZKG KHMKH KIRKI KNAKN KORKR KWTKW LAOLA LBNLB LBRLR LBYLY \
LCALC LIELI LKALK LSOLS LTULT LUXLU LVALV MACMO MAFMF MARMA MCOMC MDAMD MDGMG MDVMV MEXMX MHLMH \
MKDMK MLIML MLTMT MMRMM MNEME MNGMN MNPMP MOZMZ MRTMR MSRMS MTQMQ MUSMU MWIMW MYSMY MYTYT NAMNA \
NCLNC NERNE NFKNF NGANG NICNI NIUNU NLDNL NORNO NPLNP NRUNR NZLNZ OMNOM PAKPK PANPA PCNPN PERPE \
PHLPH PLWPW PNGPG POLPL PRIPR PRKKP PRTPT PRYPY PSEPS PYFPF QATQA REURE ROURO RUSRU RWARW SAUSA \
SDNSD SENSN SGPSG SGSGS SHNSH SJMSJ SLBSB SLESL SLVSV SMRSM SOMSO SPMPM SRBRS SSDSS STPST SURSR \
SVKSK SVNSI SWESE SWZSZ SXMSX SYCSC SYRSY TCATC TCDTD TGOTG THATH TJKTJ TKLTK TKMTM TLSTL TONTO \
TTOTT TUNTN TURTR TUVTV TWNTW TZATZ UGAUG UKRUA UMIUM URYUY USAUS UZBUZ VATVA VCTVC VENVE VGBVG \
VIRVI VNMVN VUTVU WLFWF WSMWS YEMYE ZAFZA ZMBZM ZWEZW";

/// The alpha-2 code of an MRZ issuing state or nationality: an ISO 3166-1 alpha-3 code, or one of
/// ICAO's own codes (Germany's `D`, the British `GBD`/`GBN`/`GBO`/`GBP`/`GBS`, Kosovo's `RKS`).
/// United Nations documents (`UNO`, `UNA`, `UNK`), stateless and refugee codes (`XXA`, `XXB`,
/// `XXC`, `XXX`) and ICAO's specimen state `UTO` have none.
pub fn alpha2_from_mrz(code: &str) -> Option<&'static str> {
    let code = code.trim_end_matches('<');
    match code {
        "D" => return Some("DE"),
        "GBD" | "GBN" | "GBO" | "GBP" | "GBS" => return Some("GB"),
        "RKS" => return Some("XK"),
        _ => {}
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    ALPHA3_ALPHA2
        .split(' ')
        .find(|entry| entry.len() == 5 && &entry[..3] == code)
        .map(|entry| &entry[3..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_mrz_codes_to_alpha2() {
        assert_eq!(alpha2_from_mrz("USA"), Some("US"));
        assert_eq!(alpha2_from_mrz("CAN"), Some("CA"));
        assert_eq!(alpha2_from_mrz("FRA"), Some("FR"));
        assert_eq!(alpha2_from_mrz("D<<"), Some("DE"));
        assert_eq!(alpha2_from_mrz("GBN"), Some("GB"));
        assert_eq!(alpha2_from_mrz("UTO"), None);
        assert_eq!(alpha2_from_mrz("usa"), None);
        assert_eq!(alpha2_from_mrz(""), None);
    }
}
