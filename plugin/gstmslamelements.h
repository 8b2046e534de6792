/* Registration of the plugin's elements (defined in gstmslamasr.c, gstmslamtranslate.c and
 * gstmslamlid.c). */
#ifndef GST_MSLAM_ELEMENTS_H
#define GST_MSLAM_ELEMENTS_H

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (mslamasr);
GST_ELEMENT_REGISTER_DECLARE (mslamtranslate);
GST_ELEMENT_REGISTER_DECLARE (mslamlid);

G_END_DECLS

#endif
